#include "accounting/analytic.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>

#include "accounting/wide.hpp"

namespace flopledger {
namespace {

// Saturating arithmetic that remembers whether it ever clamped.
struct Saturating {
  bool saturated = false;
  u128 add(u128 a, u128 b) {
    u128 out = 0;
    if (checked_add(a, b, out)) return out;
    saturated = true;
    return kU128Max;
  }
  u128 mul(u128 a, u128 b) {
    u128 out = 0;
    if (checked_mul(a, b, out)) return out;
    saturated = true;
    return kU128Max;
  }
};

struct LoraName {
  const char *name;
  const char *peft_name; // the module name PEFT's target_modules uses in Llama-style models
  std::uint32_t bit;
};
constexpr LoraName kLoraNames[] = {
    {"q", "q_proj", kLoraQ},          {"k", "k_proj", kLoraK},          {"v", "v_proj", kLoraV},
    {"o", "o_proj", kLoraO},          {"gate", "gate_proj", kLoraGate}, {"up", "up_proj", kLoraUp},
    {"down", "down_proj", kLoraDown},
};
constexpr const char *kLoraList = "q, k, v, o, gate, up, down (or q_proj, ...), or all";

bool structure_declared(const ModelSpec &spec) {
  return spec.layers > 0 && spec.hidden > 0;
}

// The dimensions the formulas use, with defaults resolved.
struct Dims {
  u128 d, heads, kv_heads, head_dim, ffn, active_experts, q_out, kv_out;
  bool moe;
};

Dims resolve(const ModelSpec &spec, Saturating &sat) {
  Dims dims{};
  dims.d = spec.hidden;
  dims.heads = spec.heads;
  dims.kv_heads = spec.kv_heads != 0 ? spec.kv_heads : spec.heads;
  dims.head_dim =
      spec.head_dim != 0 ? spec.head_dim : (spec.heads != 0 ? spec.hidden / spec.heads : 0);
  dims.ffn = spec.ffn_hidden != 0 ? u128{spec.ffn_hidden} : sat.mul(4, spec.hidden);
  dims.moe = spec.experts >= 2;
  dims.active_experts = dims.moe ? spec.experts_top_k : 1;
  dims.q_out = sat.mul(dims.heads, dims.head_dim);
  dims.kv_out = sat.mul(dims.kv_heads, dims.head_dim);
  return dims;
}

// ---- the JSON model file -------------------------------------------------------------------

struct Token {
  bool is_string = false;
  std::string text; // decoded string, or the raw bare token
};

class JsonReader {
public:
  explicit JsonReader(std::string_view text) : text_(text) {}

  std::string where() const {
    std::size_t line = 1, column = 1;
    for (std::size_t i = 0; i < pos_ && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    return "line " + std::to_string(line) + ", column " + std::to_string(column);
  }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
  }
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }
  bool consume(char c) {
    if (peek() != c || at_end()) return false;
    ++pos_;
    return true;
  }
  std::string found() const {
    if (at_end()) return "the end of the text";
    return "'" + std::string(1, text_[pos_]) + "'";
  }

  // Reads a JSON string after its opening quote; false with `error` on a bad escape or no end.
  bool read_string(std::string &out, std::string &error) {
    out.clear();
    while (!at_end()) {
      const char c = text_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) {
        --pos_;
        error = "control character in a string at " + where() + ": expected it escaped";
        return false;
      }
      if (c != '\\') {
        out += c;
        continue;
      }
      if (at_end()) break;
      const char e = text_[pos_++];
      switch (e) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case '/':
        out += '/';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        std::uint32_t code = 0;
        if (!read_hex4(code, error)) return false;
        if (code >= 0xD800 && code <= 0xDBFF) {
          std::uint32_t low = 0;
          if (!(consume('\\') && consume('u')) || !read_hex4(low, error) || low < 0xDC00 ||
              low > 0xDFFF) {
            if (error.empty())
              error = "unpaired UTF-16 surrogate in a string at " + where() +
                      ": expected a \\uDC00-\\uDFFF escape to follow";
            return false;
          }
          code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
        } else if (code >= 0xDC00 && code <= 0xDFFF) {
          error = "unpaired UTF-16 surrogate in a string at " + where();
          return false;
        }
        append_utf8(out, code);
        break;
      }
      default:
        --pos_;
        error = "bad escape '\\" + std::string(1, e) + "' at " + where() +
                ": expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX";
        return false;
      }
    }
    error = "unterminated string: expected a closing '\"' before the end of the text";
    return false;
  }

  // A value: a string, or a bare token (number, true, false, null, or anything else up to a
  // delimiter) that the caller interprets. Objects and arrays are refused here.
  bool read_value(Token &out, std::string &error) {
    if (consume('"')) {
      out.is_string = true;
      return read_string(out.text, error);
    }
    if (peek() == '{' || peek() == '[') {
      error = "nested " + std::string(peek() == '{' ? "object" : "array") + " at " + where() +
              ": expected an integer, a string or true/false (the model file is one flat object)";
      return false;
    }
    const std::size_t start = pos_;
    while (!at_end() &&
           std::string_view(",}] \t\r\n\"").find(text_[pos_]) == std::string_view::npos)
      ++pos_;
    if (pos_ == start) {
      error = "missing value at " + where() + ": expected an integer, a string or true/false";
      return false;
    }
    out.is_string = false;
    out.text = std::string(text_.substr(start, pos_ - start));
    return true;
  }

private:
  bool read_hex4(std::uint32_t &code, std::string &error) {
    code = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = peek();
      unsigned digit = 0;
      if (h >= '0' && h <= '9')
        digit = static_cast<unsigned>(h - '0');
      else if (h >= 'a' && h <= 'f')
        digit = static_cast<unsigned>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F')
        digit = static_cast<unsigned>(h - 'A' + 10);
      else {
        error = "bad \\u escape at " + where() + ": expected four hexadecimal digits";
        return false;
      }
      code = code * 16 + digit;
      ++pos_;
    }
    return true;
  }
  static void append_utf8(std::string &out, std::uint32_t code) {
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xC0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      out += static_cast<char>(0xE0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (code >> 18));
      out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    }
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

struct IntegerKey {
  const char *name;
  std::uint64_t ModelSpec::*field;
};
constexpr IntegerKey kIntegerKeys[] = {
    {"params_total", &ModelSpec::params_total},
    {"params_trainable", &ModelSpec::params_trainable},
    {"layers", &ModelSpec::layers},
    {"hidden", &ModelSpec::hidden},
    {"heads", &ModelSpec::heads},
    {"kv_heads", &ModelSpec::kv_heads},
    {"head_dim", &ModelSpec::head_dim},
    {"ffn_hidden", &ModelSpec::ffn_hidden},
    {"vocab", &ModelSpec::vocab},
    {"seq_len", &ModelSpec::seq_len},
    {"experts", &ModelSpec::experts},
    {"experts_top_k", &ModelSpec::experts_top_k},
    {"lora_rank", &ModelSpec::lora_rank},
};

struct BoolKey {
  const char *name;
  bool ModelSpec::*field;
};
constexpr BoolKey kBoolKeys[] = {
    {"gated_mlp", &ModelSpec::gated_mlp},
    {"causal", &ModelSpec::causal},
    {"tied_embeddings", &ModelSpec::tied_embeddings},
};

std::string describe(const Token &token) {
  return token.is_string ? "the string \"" + token.text + "\"" : token.text;
}

// Exact non-negative decimal up to 2^64-1, JSON-style (no sign, no leading zero).
bool parse_u64(const std::string &text, std::uint64_t &out) {
  if (text.empty() || text.size() > 20) return false;
  if (text.size() > 1 && text[0] == '0') return false;
  u128 value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<u128>(c - '0');
  }
  if (value > std::numeric_limits<std::uint64_t>::max()) return false;
  out = static_cast<std::uint64_t>(value);
  return true;
}

// Applies one key; false with `error` (without the origin) on a wrong type or unknown key.
bool apply_key(const std::string &key, const Token &value, ModelSpec &spec, std::string &error) {
  const std::string quoted = "\"" + key + "\"";
  for (const IntegerKey &entry : kIntegerKeys) {
    if (key != entry.name) continue;
    if (value.is_string || !parse_u64(value.text, spec.*entry.field)) {
      error = "key " + quoted + ": expected a non-negative integer up to 18446744073709551615 " +
              "(decimal digits, no sign, fraction, exponent or leading zero), found " +
              describe(value);
      return false;
    }
    return true;
  }
  for (const BoolKey &entry : kBoolKeys) {
    if (key != entry.name) continue;
    if (value.is_string || (value.text != "true" && value.text != "false")) {
      error = "key " + quoted + ": expected true or false, found " + describe(value);
      return false;
    }
    spec.*entry.field = value.text == "true";
    return true;
  }
  if (key == "name" || key == "lora_targets") {
    if (!value.is_string) {
      error = "key " + quoted + ": expected a string, found " + describe(value);
      return false;
    }
    if (key == "name") {
      spec.name = value.text;
      return true;
    }
    std::string why;
    if (!parse_lora_targets(value.text, spec.lora_targets, why)) {
      error = "key " + quoted + ": " + why;
      return false;
    }
    return true;
  }
  error = "unknown key " + quoted +
          ": expected one of name, params_total, params_trainable, layers, hidden, heads, "
          "kv_heads, head_dim, ffn_hidden, gated_mlp, vocab, seq_len, experts, experts_top_k, "
          "lora_rank, lora_targets, causal, tied_embeddings";
  return false;
}

void append_json_string(std::string &out, const std::string &text) {
  out += '"';
  for (char c : text) {
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    default:
      if (static_cast<unsigned char>(c) < 0x20) {
        char escaped[8];
        std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
        out += escaped;
      } else {
        out += c;
      }
    }
  }
  out += '"';
}

std::string field(const char *name, std::uint64_t value) {
  return std::string(name) + "=" + std::to_string(value);
}

} // namespace

// ---- LoRA targets ----------------------------------------------------------------------------

bool parse_lora_targets(std::string_view text, std::uint32_t &bits, std::string &error) {
  auto trim = [](std::string_view s) {
    while (!s.empty() && s.front() == ' ')
      s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ')
      s.remove_suffix(1);
    return s;
  };
  if (trim(text) == "all") {
    bits = kLoraAll;
    return true;
  }
  std::uint32_t result = 0;
  std::string_view rest = text;
  while (true) {
    const std::size_t comma = rest.find(',');
    const std::string_view item = trim(rest.substr(0, comma));
    if (item.empty()) {
      error = "lora_targets '" + std::string(text) + "': empty item; expected a comma-separated " +
              "list of " + kLoraList;
      return false;
    }
    std::uint32_t bit = 0;
    for (const LoraName &entry : kLoraNames)
      if (item == entry.name || item == entry.peft_name) bit = entry.bit;
    if (bit == 0 || (result & bit) != 0) {
      error = "lora_targets '" + std::string(text) +
              "': " + (bit == 0 ? "unknown projection '" : "repeated projection '") +
              std::string(item) + "'; expected a comma-separated list of " + kLoraList;
      return false;
    }
    result |= bit;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  bits = result;
  return true;
}

std::string lora_targets_to_string(std::uint32_t bits) {
  std::string out;
  for (const LoraName &entry : kLoraNames) {
    if ((bits & entry.bit) == 0) continue;
    if (!out.empty()) out += ',';
    out += entry.name;
  }
  return out;
}

// ---- model file ------------------------------------------------------------------------------

bool parse_model_json(std::string_view text, const std::string &origin, ModelSpec &out,
                      std::string &error) {
  auto fail = [&](const std::string &message) {
    error = origin + ": " + message;
    return false;
  };
  JsonReader reader(text);
  ModelSpec spec;
  std::set<std::string> seen;
  std::string why;

  reader.skip_space();
  if (!reader.consume('{'))
    return fail("expected '{' (a JSON object) at " + reader.where() + ", found " + reader.found());
  reader.skip_space();
  if (!reader.consume('}')) {
    while (true) {
      reader.skip_space();
      if (!reader.consume('"'))
        return fail("expected a key in double quotes at " + reader.where() + ", found " +
                    reader.found());
      std::string key;
      if (!reader.read_string(key, why)) return fail(why);
      reader.skip_space();
      if (!reader.consume(':'))
        return fail("expected ':' after key \"" + key + "\" at " + reader.where() + ", found " +
                    reader.found());
      reader.skip_space();
      Token value;
      if (!reader.read_value(value, why)) return fail("key \"" + key + "\": " + why);
      if (!seen.insert(key).second)
        return fail("key \"" + key + "\" appears twice: expected each key once");
      if (!apply_key(key, value, spec, why)) return fail(why);
      reader.skip_space();
      if (reader.consume(',')) continue;
      if (reader.consume('}')) break;
      return fail("expected ',' or '}' at " + reader.where() + ", found " + reader.found());
    }
  }
  reader.skip_space();
  if (!reader.at_end())
    return fail("unexpected text after the closing '}' at " + reader.where() + ": found " +
                reader.found() + ", expected the end of the file");

  for (const char *required : {"name", "params_total", "params_trainable"})
    if (seen.count(required) == 0)
      return fail(std::string("missing required key \"") + required +
                  "\": expected name, params_total and params_trainable");
  if (seen.count("lora_targets") != 0 && spec.lora_rank == 0)
    return fail("lora_targets is given but lora_rank is 0 (a full fine-tune): expected "
                "lora_rank >= 1 with lora_targets");
  if (!validate_model(spec, why)) return fail(why);
  out = spec;
  return true;
}

std::string model_to_json(const ModelSpec &spec) {
  std::string out = "{\n  \"name\": ";
  append_json_string(out, spec.name);
  for (const IntegerKey &entry : kIntegerKeys) {
    const std::uint64_t value = spec.*entry.field;
    const std::string key = entry.name;
    if (value == 0 && key != "params_total" && key != "params_trainable") continue;
    out += ",\n  \"" + key + "\": " + std::to_string(value);
    if (key == "lora_rank") {
      out += ",\n  \"lora_targets\": ";
      append_json_string(out, lora_targets_to_string(spec.lora_targets));
    }
  }
  for (const BoolKey &entry : kBoolKeys)
    out += std::string(",\n  \"") + entry.name + "\": " + (spec.*entry.field ? "true" : "false");
  out += "\n}\n";
  return out;
}

bool validate_model(const ModelSpec &spec, std::string &error) {
  if (spec.name.empty()) {
    error = "name is empty: expected the model's name";
    return false;
  }
  if (spec.params_total == 0) {
    error = "params_total=0: expected the model's parameter count, >= 1";
    return false;
  }
  if (spec.params_trainable == 0 || spec.params_trainable > spec.params_total) {
    error = field("params_trainable", spec.params_trainable) + ": expected 1.." +
            field("params_total", spec.params_total);
    return false;
  }
  if (spec.layers > 0 || spec.hidden > 0) {
    const char *missing = spec.layers == 0   ? "layers"
                          : spec.hidden == 0 ? "hidden"
                          : spec.heads == 0  ? "heads"
                          : spec.vocab == 0  ? "vocab"
                                             : nullptr;
    if (missing != nullptr) {
      error = std::string(missing) +
              "=0: expected >= 1 (layers, hidden, heads and vocab declare the structure together)";
      return false;
    }
    if (spec.head_dim == 0 && spec.hidden % spec.heads != 0) {
      error = field("heads", spec.heads) + ": expected a divisor of " +
              field("hidden", spec.hidden) + " (or give head_dim)";
      return false;
    }
    if (spec.kv_heads != 0 && spec.heads % spec.kv_heads != 0) {
      error = field("kv_heads", spec.kv_heads) + ": expected a divisor of " +
              field("heads", spec.heads);
      return false;
    }
  } else {
    const std::pair<const char *, std::uint64_t> structural[] = {
        {"heads", spec.heads},
        {"kv_heads", spec.kv_heads},
        {"head_dim", spec.head_dim},
        {"ffn_hidden", spec.ffn_hidden},
        {"vocab", spec.vocab},
        {"experts", spec.experts},
        {"experts_top_k", spec.experts_top_k},
        {"gated_mlp", spec.gated_mlp ? 1u : 0u}};
    for (const auto &entry : structural) {
      if (entry.second == 0) continue;
      error = std::string(entry.first) +
              " is given without layers and hidden: expected the whole structure (layers, "
              "hidden, heads, vocab) or none of it";
      return false;
    }
  }
  if (spec.experts >= 2) {
    if (spec.experts_top_k == 0 || spec.experts_top_k > spec.experts) {
      error = field("experts_top_k", spec.experts_top_k) + ": expected 1.." +
              field("experts", spec.experts);
      return false;
    }
  } else if (spec.experts_top_k > 1) {
    error = field("experts_top_k", spec.experts_top_k) + ": expected 0 or 1 without MoE (" +
            field("experts", spec.experts) + ")";
    return false;
  }
  if (spec.lora_rank > 0) {
    if (spec.lora_targets == 0 || (spec.lora_targets & ~kLoraAll) != 0) {
      error = "lora_targets=" + std::to_string(spec.lora_targets) +
              ": expected a non-empty set of " + kLoraList;
      return false;
    }
    if ((spec.lora_targets & kLoraGate) != 0 && !spec.gated_mlp && structure_declared(spec)) {
      error = "lora_targets includes gate but gated_mlp is false: expected gate only with a "
              "gated MLP";
      return false;
    }
  }
  return true;
}

// ---- the analytic method ---------------------------------------------------------------------

ActiveWeights active_matmul_weights(const ModelSpec &spec) {
  ActiveWeights weights;
  if (!structure_declared(spec)) {
    weights.all = spec.params_total;
    weights.trainable = spec.params_trainable;
    return weights;
  }
  Saturating sat;
  const Dims dims = resolve(spec, sat);
  const u128 d = dims.d;
  const u128 attention = sat.add(
      sat.add(sat.mul(d, dims.q_out), sat.mul(2, sat.mul(d, dims.kv_out))), sat.mul(dims.q_out, d));
  const u128 mlp =
      sat.mul(sat.mul(spec.gated_mlp ? 3 : 2, sat.mul(d, dims.ffn)), dims.active_experts);
  const u128 router = dims.moe ? sat.mul(d, spec.experts) : 0;
  u128 adapters = 0; // per layer: rank * (in + out) per adapted projection
  if (spec.lora_rank > 0) {
    const u128 r = spec.lora_rank;
    const u128 attn_in_out[] = {sat.add(d, dims.q_out), sat.add(d, dims.kv_out),
                                sat.add(d, dims.kv_out), sat.add(dims.q_out, d)};
    const std::uint32_t attn_bits[] = {kLoraQ, kLoraK, kLoraV, kLoraO};
    for (int i = 0; i < 4; ++i)
      if ((spec.lora_targets & attn_bits[i]) != 0)
        adapters = sat.add(adapters, sat.mul(r, attn_in_out[i]));
    const u128 mlp_adapter = sat.mul(sat.mul(r, sat.add(d, dims.ffn)), dims.active_experts);
    for (std::uint32_t bit : {kLoraGate, kLoraUp, kLoraDown})
      if ((spec.lora_targets & bit) != 0) adapters = sat.add(adapters, mlp_adapter);
  }
  const u128 per_layer = sat.add(sat.add(sat.add(attention, mlp), router), adapters);
  weights.all = sat.add(sat.mul(spec.layers, per_layer), sat.mul(d, spec.vocab));
  weights.trainable = spec.lora_rank > 0 ? sat.mul(spec.layers, adapters) : weights.all;
  weights.from_structure = true;
  weights.saturated = sat.saturated;
  return weights;
}

u128 attention_flops(const ModelSpec &spec, u128 tokens, u128 sum_sq, bool *saturated) {
  if (!structure_declared(spec)) return 0;
  Saturating sat;
  const Dims dims = resolve(spec, sat);
  const u128 pairs = spec.causal ? sat.add(sum_sq, tokens) / 2 : sum_sq;
  const u128 flops = sat.mul(sat.mul(sat.mul(4, spec.layers), dims.q_out), pairs);
  if (saturated != nullptr && sat.saturated) *saturated = true;
  return flops;
}

u128 sum_sq_full_sequences(u128 tokens, std::uint64_t seq_len) {
  Saturating sat;
  return sat.mul(tokens, seq_len);
}

AnalyticResult analytic_training_flops(const ModelSpec &spec, u128 tokens, u128 sum_sq) {
  const ActiveWeights weights = active_matmul_weights(spec);
  Saturating sat;
  sat.saturated = weights.saturated;
  const u128 attention = attention_flops(spec, tokens, sum_sq, &sat.saturated);
  const u128 forward_and_activation_grads = sat.mul(sat.mul(4, weights.all), tokens);
  const u128 weight_grads = sat.mul(sat.mul(2, weights.trainable), tokens);
  AnalyticResult result;
  result.flops =
      sat.add(sat.add(forward_and_activation_grads, weight_grads), sat.mul(3, attention));
  result.from_structure = weights.from_structure;
  result.saturated = sat.saturated;
  const bool lora = spec.lora_rank > 0;
  if (weights.from_structure) {
    result.method_note =
        std::string("analytic (architecture): ") +
        (lora ? "4*M*tokens + 2*Mt*tokens + 3*A, LoRA rank " + std::to_string(spec.lora_rank) +
                    " on " + lora_targets_to_string(spec.lora_targets)
              : std::string("6*M*tokens + 3*A, full fine-tune")) +
        "; M=" + to_decimal(weights.all) + ", Mt=" + to_decimal(weights.trainable) +
        ", A=" + to_decimal(attention) + ", tokens=" + to_decimal(tokens) +
        "; matmuls and attention scores only, no recomputation";
  } else {
    result.method_note =
        "analytic (dense approximation, layers/hidden not declared): 4*params_total*tokens + "
        "2*params_trainable*tokens; M=params_total=" +
        std::to_string(spec.params_total) +
        ", Mt=params_trainable=" + std::to_string(spec.params_trainable) +
        ", tokens=" + to_decimal(tokens) + "; attention not included";
  }
  if (result.saturated) result.method_note += "; SATURATED at 2^128-1 (overflow)";
  return result;
}

u128 analytic_inference_flops(const ModelSpec &spec, u128 tokens, u128 sum_sq) {
  const ActiveWeights weights = active_matmul_weights(spec);
  Saturating sat;
  const u128 attention = attention_flops(spec, tokens, sum_sq);
  return sat.add(sat.mul(sat.mul(2, weights.all), tokens), attention);
}

u128 aws_ftfm_flops(const ModelSpec &spec, u128 tokens) {
  Saturating sat;
  const u128 per_token = sat.add(sat.mul(4, spec.params_total), sat.mul(2, spec.params_trainable));
  return sat.mul(per_token, tokens);
}

u128 hf_flops(const ModelSpec &spec, u128 tokens) {
  Saturating sat;
  return sat.mul(sat.mul(6, spec.params_total), tokens);
}

// ---- the hardware method ---------------------------------------------------------------------

HardwareEstimate hardware_flops(std::uint32_t devices, double seconds, u128 peak_flops_per_second,
                                double utilisation) {
  HardwareEstimate estimate;
  char text[64];
  if (devices == 0 || peak_flops_per_second == 0) {
    estimate.reason = "CPU run: no accelerator peak known";
    return estimate;
  }
  if (!std::isfinite(seconds) || seconds < 0) {
    std::snprintf(text, sizeof text, "%g", seconds);
    estimate.reason = std::string("seconds=") + text + ": expected a finite duration >= 0";
    return estimate;
  }
  if (!(utilisation > 0 && utilisation <= 1)) {
    std::snprintf(text, sizeof text, "%g", utilisation);
    estimate.reason = std::string("utilisation=") + text + ": expected a fraction in (0, 1]";
    return estimate;
  }
  // long double keeps 64 bits of mantissa on x86-64: the inputs' own uncertainty dominates.
  const long double value =
      static_cast<long double>(devices) * static_cast<long double>(peak_flops_per_second) *
      static_cast<long double>(seconds) * static_cast<long double>(utilisation);
  const long double rounded = std::floor(value + 0.5L);
  estimate.applicable = true;
  estimate.flops = rounded >= std::ldexp(1.0L, 128) ? kU128Max : static_cast<u128>(rounded);
  return estimate;
}

// ---- the bracket -----------------------------------------------------------------------------

Bracket bracket(const std::vector<u128> &figures, unsigned tolerance_percent) {
  Bracket result;
  if (figures.empty()) return result;
  result.low = *std::min_element(figures.begin(), figures.end());
  result.high = *std::max_element(figures.begin(), figures.end());
  const u128 gap = result.high - result.low;
  result.within_tolerance = wide::compare_products(100, gap, tolerance_percent, result.low) <= 0;
  if (result.low != 0)
    result.spread = to_double(gap) / to_double(result.low);
  else if (result.high != 0)
    result.spread = std::numeric_limits<double>::infinity();
  return result;
}

bool within_percent(u128 estimate, u128 reference, unsigned tolerance_percent) {
  const u128 gap = estimate > reference ? estimate - reference : reference - estimate;
  return wide::compare_products(100, gap, tolerance_percent, reference) <= 0;
}

} // namespace flopledger
