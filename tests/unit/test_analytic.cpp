#include <doctest/doctest.h>

#include "u128_printer.hpp"

#include <cmath>
#include <string>
#include <vector>

#include "accounting/analytic.hpp"

using namespace flopledger;

namespace {

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

// layers=2, hidden=128, heads=4 (head_dim 32), ffn 4*128=512 (two matrices), vocab=96:
// per layer Q,K,V,O 4*128*128 = 65536 + MLP 2*128*512 = 131072; M = 2*196608 + 128*96 = 405504.
ModelSpec small_dense() {
  ModelSpec spec;
  spec.name = "tiny-dense";
  spec.params_total = 430000;
  spec.params_trainable = 430000;
  spec.layers = 2;
  spec.hidden = 128;
  spec.heads = 4;
  spec.vocab = 96;
  spec.seq_len = 64;
  return spec;
}

// 8 sequences of 64 tokens: tokens 512, sum of squares 8 * 64^2 = 32768;
// causal pairs (32768 + 512) / 2 = 16640; A = 4 * 2 layers * 128 * 16640 = 17039360.
constexpr u128 kTokens = 512;
constexpr u128 kSumSq = 32768;
constexpr u128 kDenseA = 17039360;

u128 pow2(int n) {
  return static_cast<u128>(1) << n;
}

bool parse(const std::string &text, ModelSpec &spec, std::string &error) {
  return parse_model_json(text, "model.json", spec, error);
}

} // namespace

TEST_CASE("dense model: M, attention and the training, inference and peer formulas") {
  const ModelSpec spec = small_dense();
  std::string error;
  REQUIRE(validate_model(spec, error));
  const ActiveWeights weights = active_matmul_weights(spec);
  CHECK(weights.from_structure);
  CHECK_FALSE(weights.saturated);
  CHECK(weights.all == 405504);
  CHECK(weights.trainable == 405504);
  CHECK(attention_flops(spec, kTokens, kSumSq) == kDenseA);
  CHECK(sum_sq_full_sequences(kTokens, spec.seq_len) == kSumSq);

  const AnalyticResult result = analytic_training_flops(spec, kTokens, kSumSq);
  CHECK(result.flops == 6 * 405504 * kTokens + 3 * kDenseA);
  CHECK(result.flops == 1296826368);
  CHECK(result.from_structure);
  CHECK_FALSE(result.saturated);
  CHECK(contains(result.method_note, "6*M*tokens + 3*A"));
  CHECK(contains(result.method_note, "M=405504"));
  CHECK(contains(result.method_note, "A=17039360"));

  CHECK(analytic_inference_flops(spec, kTokens, kSumSq) == 432275456); // 2*M*512 + A
  CHECK(aws_ftfm_flops(spec, kTokens) == (4 * 430000 + 2 * 430000) * kTokens);
  CHECK(hf_flops(spec, kTokens) == 6 * 430000 * kTokens);
  CHECK(aws_ftfm_flops(spec, 0) == 0);
}

TEST_CASE("attention pairs: causal s(s+1)/2, bidirectional s^2, packed sequences") {
  ModelSpec spec = small_dense();
  // Packed lengths 100 + 200 + 212 = 512 tokens, sum of squares 94944 (not 512 * 64 = 32768):
  // pairs (94944 + 512) / 2 = 47728, A = 1024 * 47728.
  CHECK(attention_flops(spec, 512, 94944) == 1024 * u128{47728});
  CHECK(analytic_training_flops(spec, 512, 94944).flops == 1392328704);
  // One sequence of 3: pairs 3*4/2 = 6.
  CHECK(attention_flops(spec, 3, 9) == 1024 * 6);
  spec.causal = false;
  CHECK(attention_flops(spec, kTokens, kSumSq) == 1024 * kSumSq);
  CHECK(analytic_training_flops(spec, kTokens, kSumSq).flops == 1346371584);
  CHECK(attention_flops(spec, 0, 0) == 0);
}

TEST_CASE("GQA with a gated MLP and explicit head_dim") {
  ModelSpec spec = small_dense();
  spec.heads = 8;
  spec.kv_heads = 2;
  spec.head_dim = 16;
  spec.ffn_hidden = 384;
  spec.gated_mlp = true;
  std::string error;
  REQUIRE(validate_model(spec, error));
  // Q 128*128 + K,V 2*128*(2*16) + O 128*128 = 40960; MLP 3*128*384 = 147456;
  // M = 2*188416 + 12288 = 389120. A: heads*head_dim = 128 as before.
  CHECK(active_matmul_weights(spec).all == 389120);
  CHECK(attention_flops(spec, kTokens, kSumSq) == kDenseA);
  CHECK(analytic_training_flops(spec, kTokens, kSumSq).flops == 1246494720);
}

TEST_CASE("MoE counts top-k experts and the router") {
  ModelSpec spec = small_dense();
  spec.ffn_hidden = 256;
  spec.gated_mlp = true;
  spec.experts = 8;
  spec.experts_top_k = 2;
  std::string error;
  REQUIRE(validate_model(spec, error));
  // attention 65536 + MLP 3*128*256*2 = 196608 + router 128*8 = 1024; M = 2*263168 + 12288.
  CHECK(active_matmul_weights(spec).all == 538624);
  CHECK(analytic_training_flops(spec, kTokens, kSumSq).flops == 1705771008);
}

TEST_CASE("LoRA: adapters add to M, only they get weight gradients") {
  ModelSpec spec = small_dense();
  spec.lora_rank = 8;
  spec.params_trainable = 8192;
  // Default targets q,v: 8*(128+128) each, 4096 per layer, Mt = 8192, M = 405504 + 8192.
  const ActiveWeights weights = active_matmul_weights(spec);
  CHECK(weights.all == 413696);
  CHECK(weights.trainable == 8192);
  const AnalyticResult result = analytic_training_flops(spec, kTokens, kSumSq);
  CHECK(result.flops == 4 * u128{413696} * kTokens + 2 * u128{8192} * kTokens + 3 * kDenseA);
  CHECK(result.flops == 906756096);
  CHECK(contains(result.method_note, "LoRA rank 8 on q,v"));
  CHECK(aws_ftfm_flops(spec, kTokens) == (4 * 430000 + 2 * 8192) * kTokens);

  // Every projection on the GQA model: q 4*(128+128), k,v 4*(128+32), o 4*(128+128),
  // gate, up, down 4*(128+384) each: 9472 per layer.
  ModelSpec gqa = small_dense();
  gqa.heads = 8;
  gqa.kv_heads = 2;
  gqa.head_dim = 16;
  gqa.ffn_hidden = 384;
  gqa.gated_mlp = true;
  gqa.lora_rank = 4;
  gqa.lora_targets = kLoraAll;
  gqa.params_trainable = 18944;
  std::string error;
  REQUIRE(validate_model(gqa, error));
  CHECK(active_matmul_weights(gqa).trainable == 18944);
  CHECK(active_matmul_weights(gqa).all == 389120 + 18944);
  CHECK(analytic_training_flops(gqa, kTokens, kSumSq).flops == 906231808);

  // MLP adapters on MoE experts count once per active expert: 4*(128+256)*2 per layer.
  ModelSpec moe = small_dense();
  moe.ffn_hidden = 256;
  moe.gated_mlp = true;
  moe.experts = 8;
  moe.experts_top_k = 2;
  moe.lora_rank = 4;
  moe.lora_targets = kLoraUp;
  CHECK(active_matmul_weights(moe).trainable == 6144);
  CHECK(active_matmul_weights(moe).all == 538624 + 6144);
}

TEST_CASE("without layers and hidden the estimate is the dense 6ND approximation") {
  ModelSpec spec;
  spec.name = "opaque";
  spec.params_total = 7000000000;
  spec.params_trainable = 7000000000;
  std::string error;
  REQUIRE(validate_model(spec, error));
  const AnalyticResult full = analytic_training_flops(spec, 1000, 1000000);
  CHECK_FALSE(full.from_structure);
  CHECK(full.flops == 6 * u128{7000000000} * 1000);
  CHECK(full.flops == hf_flops(spec, 1000));
  CHECK(contains(full.method_note, "dense approximation"));
  CHECK(contains(full.method_note, "attention not included"));
  CHECK(attention_flops(spec, 1000, 1000000) == 0);

  spec.lora_rank = 16;
  spec.params_trainable = 4000000;
  const AnalyticResult lora = analytic_training_flops(spec, 1000, 1000000);
  CHECK(lora.flops == (4 * u128{7000000000} + 2 * u128{4000000}) * 1000);
  CHECK(lora.flops == aws_ftfm_flops(spec, 1000));
  CHECK(analytic_inference_flops(spec, 1000, 1000000) == 2 * u128{7000000000} * 1000);
}

TEST_CASE("overflow saturates at 2^128-1 and is flagged") {
  ModelSpec spec = small_dense();
  spec.hidden = ~std::uint64_t{0};
  spec.heads = 1;
  spec.layers = ~std::uint64_t{0};
  const ActiveWeights weights = active_matmul_weights(spec);
  CHECK(weights.saturated);
  CHECK(weights.all == kU128Max);
  const AnalyticResult result = analytic_training_flops(small_dense(), pow2(120), pow2(120));
  CHECK(result.saturated);
  CHECK(result.flops == kU128Max);
  CHECK(contains(result.method_note, "SATURATED"));
  CHECK(analytic_inference_flops(small_dense(), pow2(120), 0) == kU128Max);
  CHECK(aws_ftfm_flops(small_dense(), pow2(120)) == kU128Max);
  CHECK(hf_flops(small_dense(), pow2(120)) == kU128Max);
  CHECK(sum_sq_full_sequences(pow2(120), 1u << 9) == kU128Max);
  // Just below the edge stays exact.
  CHECK_FALSE(analytic_training_flops(small_dense(), 1000000, 64000000).saturated);
}

TEST_CASE("validate_model names the field and what was expected") {
  std::string error;
  ModelSpec spec = small_dense();
  spec.name.clear();
  CHECK_FALSE(validate_model(spec, error));
  CHECK(contains(error, "name is empty"));

  spec = small_dense();
  spec.params_trainable = spec.params_total + 1;
  CHECK_FALSE(validate_model(spec, error));
  CHECK(error == "params_trainable=430001: expected 1..params_total=430000");

  spec = small_dense();
  spec.heads = 3;
  CHECK_FALSE(validate_model(spec, error));
  CHECK(error == "heads=3: expected a divisor of hidden=128 (or give head_dim)");
  spec.head_dim = 40; // explicit head_dim: heads need not divide hidden
  CHECK(validate_model(spec, error));

  spec = small_dense();
  spec.kv_heads = 3;
  CHECK_FALSE(validate_model(spec, error));
  CHECK(error == "kv_heads=3: expected a divisor of heads=4");

  spec = small_dense();
  spec.experts = 4;
  spec.experts_top_k = 5;
  CHECK_FALSE(validate_model(spec, error));
  CHECK(error == "experts_top_k=5: expected 1..experts=4");
  spec.experts_top_k = 0;
  CHECK_FALSE(validate_model(spec, error));

  spec = small_dense();
  spec.experts_top_k = 2;
  CHECK_FALSE(validate_model(spec, error));
  CHECK(contains(error, "without MoE"));

  spec = small_dense();
  spec.vocab = 0;
  CHECK_FALSE(validate_model(spec, error));
  CHECK(contains(error, "vocab=0"));

  spec = small_dense();
  spec.layers = 0;
  CHECK_FALSE(validate_model(spec, error));
  CHECK(contains(error, "layers=0"));
  spec.hidden = 0;
  CHECK_FALSE(validate_model(spec, error));
  CHECK(contains(error, "heads is given without layers and hidden"));

  spec = small_dense();
  spec.lora_rank = 8;
  spec.lora_targets = 0;
  CHECK_FALSE(validate_model(spec, error));
  CHECK(contains(error, "lora_targets"));
  spec.lora_targets = kLoraGate;
  CHECK_FALSE(validate_model(spec, error));
  CHECK(contains(error, "gated_mlp is false"));
}

TEST_CASE("LoRA target lists parse and print canonically") {
  std::uint32_t bits = 0;
  std::string error;
  REQUIRE(parse_lora_targets("q,v", bits, error));
  CHECK(bits == (kLoraQ | kLoraV));
  REQUIRE(parse_lora_targets("down_proj, q_proj,gate", bits, error));
  CHECK(lora_targets_to_string(bits) == "q,gate,down");
  REQUIRE(parse_lora_targets("all", bits, error));
  CHECK(bits == kLoraAll);
  CHECK(lora_targets_to_string(kLoraAll) == "q,k,v,o,gate,up,down");
  CHECK(lora_targets_to_string(0).empty());
  bits = 7;
  CHECK_FALSE(parse_lora_targets("q,x", bits, error));
  CHECK(contains(error, "unknown projection 'x'"));
  CHECK(bits == 7);
  CHECK_FALSE(parse_lora_targets("q,q", bits, error));
  CHECK(contains(error, "repeated projection 'q'"));
  CHECK_FALSE(parse_lora_targets("", bits, error));
  CHECK(contains(error, "empty item"));
  CHECK_FALSE(parse_lora_targets("q,", bits, error));
}

TEST_CASE("the model JSON file: a full example and the round trip") {
  const std::string text = R"({
    "name": "Llama-3.1-8B \"lora\"",
    "params_total": 8030261248, "params_trainable": 6815744,
    "layers": 32, "hidden": 4096, "heads": 32, "kv_heads": 8, "ffn_hidden": 14336,
    "gated_mlp": true, "vocab": 128256, "seq_len": 8192,
    "lora_rank": 16, "lora_targets": "q_proj,v_proj", "causal": true, "tied_embeddings": false
  })";
  ModelSpec spec;
  std::string error;
  REQUIRE_MESSAGE(parse(text, spec, error), error);
  CHECK(spec.name == "Llama-3.1-8B \"lora\"");
  CHECK(spec.params_total == 8030261248u);
  CHECK(spec.params_trainable == 6815744u);
  CHECK(spec.kv_heads == 8);
  CHECK(spec.head_dim == 0);
  CHECK(spec.gated_mlp);
  CHECK(spec.lora_targets == (kLoraQ | kLoraV));
  // Llama-3.1-8B LoRA r=16 on q,v: 32 * (16*(4096+4096) + 16*(4096+1024)) = 6815744, the
  // count PEFT prints as trainable.
  CHECK(active_matmul_weights(spec).trainable == 6815744);

  ModelSpec again;
  REQUIRE_MESSAGE(parse(model_to_json(spec), again, error), error);
  CHECK(model_to_json(again) == model_to_json(spec));
  CHECK(again.name == spec.name);
  CHECK(again.lora_rank == 16);
  CHECK(again.seq_len == 8192);

  ModelSpec minimal;
  REQUIRE(parse(R"({"name":"m","params_total":10,"params_trainable":10})", minimal, error));
  CHECK(minimal.causal);
  CHECK(minimal.lora_targets == (kLoraQ | kLoraV));
  CHECK(model_to_json(minimal) == "{\n  \"name\": \"m\",\n  \"params_total\": 10,\n"
                                  "  \"params_trainable\": 10,\n  \"gated_mlp\": false,\n"
                                  "  \"causal\": true,\n  \"tied_embeddings\": false\n}\n");
  ModelSpec unicode;
  REQUIRE(parse(R"({"name":"caf\u00e9 \ud83d\ude00","params_total":1,"params_trainable":1})",
                unicode, error));
  CHECK(unicode.name == "caf\xc3\xa9 \xf0\x9f\x98\x80");
}

TEST_CASE("the model JSON file: every error names the key or position and what was expected") {
  const std::string head = R"({"name":"m","params_total":10,"params_trainable":10)";
  struct Case {
    std::string text;
    const char *expected;
  };
  const std::vector<Case> cases = {
      {head + R"(,"layer":2})", "model.json: unknown key \"layer\": expected one of name,"},
      {head + R"(,"layers":2.5})", "key \"layers\": expected a non-negative integer"},
      {head + R"(,"layers":2.5})", "found 2.5"},
      {head + R"(,"layers":-3})", "found -3"},
      {head + R"(,"layers":1e3})", "found 1e3"},
      {head + R"(,"layers":02})", "found 02"},
      {head + R"(,"layers":"2"})", "found the string \"2\""},
      {head + R"(,"layers":18446744073709551616})", "found 18446744073709551616"},
      {head + R"(,"layers":null})", "found null"},
      {head + R"(,"causal":1})", "key \"causal\": expected true or false, found 1"},
      {head + R"(,"name":"x"})", "key \"name\" appears twice"},
      {head + R"(,"lora_rank":4,"lora_targets":"qq"})", "unknown projection 'qq'"},
      {head + R"(,"lora_targets":"q"})", "lora_targets is given but lora_rank is 0"},
      {head + R"(,"layers":[2]})", "nested array"},
      {head + R"(,"layers":{}})", "nested object"},
      {head + "} x", "unexpected text after the closing '}' at line 1, column 54"},
      {head + "}}", "unexpected text after the closing '}'"},
      {head, "expected ',' or '}' at line 1, column 52, found the end of the text"},
      {head + ",}", "expected a key in double quotes"},
      {R"({"name":"m","params_total":10})", "missing required key \"params_trainable\""},
      {R"({"params_total":10,"params_trainable":10})", "missing required key \"name\""},
      {"[]", "expected '{' (a JSON object) at line 1, column 1, found '['"},
      {"", "found the end of the text"},
      {R"({"name":"m\x","params_total":1,"params_trainable":1})", "bad escape '\\x'"},
      {R"({"name":"m)", "unterminated string"},
      {R"({"name" "m"})", "expected ':' after key \"name\""},
      {head + ",\n\"layers\":}", "key \"layers\": missing value at line 2, column 10"},
      {head + R"(,"params_trainable":11})", "appears twice"},
      {R"({"name":"m","params_total":10,"params_trainable":11})",
       "model.json: params_trainable=11: expected 1..params_total=10"},
      {head + R"(,"layers":2,"hidden":128})", "heads=0: expected >= 1"},
  };
  for (const Case &c : cases) {
    ModelSpec spec = small_dense();
    std::string error;
    CAPTURE(c.text);
    CHECK_FALSE(parse(c.text, spec, error));
    CHECK_MESSAGE(contains(error, c.expected), error);
    CHECK(contains(error, "model.json: "));
    CHECK(spec.name == "tiny-dense"); // untouched on failure
  }
}

TEST_CASE("hardware estimate: devices x seconds x peak x utilisation") {
  // 8 GPUs x 3600 s x 989e12 FLOP/s x 0.5 (dyadic, so exact in binary).
  const HardwareEstimate h100 = hardware_flops(8, 3600.0, u128{989000000000000}, 0.5);
  CHECK(h100.applicable);
  CHECK(h100.reason.empty());
  CHECK(h100.flops == u128{14241600000000000} * 1000);
  CHECK(hardware_flops(1, 1.5, 3, 1.0).flops == 5); // 4.5 rounds to nearest (half up)
  CHECK(hardware_flops(1, 0.0, 1000, 1.0).flops == 0);
  // 0.4 is not exact in binary; the figure is within one part in 1e15.
  const HardwareEstimate approx = hardware_flops(8, 3600.0, u128{989000000000000}, 0.4);
  CHECK(std::fabs(to_double(approx.flops) / 1.139328e19 - 1) < 1e-15);
  CHECK(hardware_flops(1, 1e30, kU128Max, 1.0).flops == kU128Max);

  const HardwareEstimate cpu = hardware_flops(0, 100.0, 0, 0.5);
  CHECK_FALSE(cpu.applicable);
  CHECK(cpu.flops == 0);
  CHECK(cpu.reason == "CPU run: no accelerator peak known");
  CHECK_FALSE(hardware_flops(4, 100.0, 0, 0.5).applicable);
  const HardwareEstimate bad_util = hardware_flops(1, 10.0, 1000, 1.5);
  CHECK_FALSE(bad_util.applicable);
  CHECK(bad_util.reason == "utilisation=1.5: expected a fraction in (0, 1]");
  CHECK_FALSE(hardware_flops(1, 10.0, 1000, 0.0).applicable);
  CHECK_FALSE(hardware_flops(1, 10.0, 1000, std::nan("")).applicable);
  const HardwareEstimate bad_time = hardware_flops(1, -1.0, 1000, 0.5);
  CHECK_FALSE(bad_time.applicable);
  CHECK(bad_time.reason == "seconds=-1: expected a finite duration >= 0");
  CHECK_FALSE(hardware_flops(1, INFINITY, 1000, 0.5).applicable);
}

TEST_CASE("bracket: exact tolerance 100*(high-low) <= t*low") {
  Bracket b = bracket({100, 130, 115}, 30);
  CHECK(b.low == 100);
  CHECK(b.high == 130);
  CHECK(b.within_tolerance); // 100*30 <= 30*100: on the boundary
  CHECK(b.spread == doctest::Approx(0.3));
  CHECK_FALSE(bracket({100, 131}, 30).within_tolerance);
  CHECK(bracket({77}, 0).within_tolerance);
  CHECK(bracket({5, 5}, 0).within_tolerance);
  CHECK_FALSE(bracket({5, 6}, 0).within_tolerance);
  b = bracket({}, 30);
  CHECK_FALSE(b.within_tolerance);
  CHECK(b.high == 0);
  b = bracket({0, 10}, 30);
  CHECK_FALSE(b.within_tolerance);
  CHECK(std::isinf(b.spread));
  CHECK(bracket({0, 0}, 30).within_tolerance);
  // Near 2^128 the products need more than 128 bits and stay exact.
  const u128 top = kU128Max;
  const u128 low = top / 13 * 10; // high/low about 1.3: 100*(top-low) vs 30*low
  CHECK(bracket({low, top}, 31).within_tolerance);
  CHECK_FALSE(bracket({low, top}, 29).within_tolerance);
  CHECK(bracket({top, top}, 0).within_tolerance);

  CHECK(within_percent(70, 100, 30));
  CHECK(within_percent(130, 100, 30));
  CHECK_FALSE(within_percent(69, 100, 30));
  CHECK_FALSE(within_percent(131, 100, 30));
  CHECK(within_percent(0, 0, 0));
  CHECK_FALSE(within_percent(1, 0, 100));
}
