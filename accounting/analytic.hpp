// The architecture-based ("analytic") and hardware-based estimates of the guidelines, the peer
// formulas (AWS Fine-Tuning FLOPs Meter, Hugging Face Trainer) and the bracket between methods.
// FLOP figures are exact u128 integers; doubles appear only for inherently approximate inputs
// (seconds, utilisation) and for display. Definitions: docs/methods.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "accounting/exact.hpp"

namespace flopledger {

/// Projections that can carry LoRA adapters, as bits of ModelSpec::lora_targets. Attention:
/// q (d -> heads*head_dim), k and v (d -> kv_heads*head_dim), o (heads*head_dim -> d); MLP:
/// gate and up (d -> ffn_hidden; gate only with gated_mlp), down (ffn_hidden -> d).
enum LoraTarget : std::uint32_t {
  kLoraQ = 1u << 0,
  kLoraK = 1u << 1,
  kLoraV = 1u << 2,
  kLoraO = 1u << 3,
  kLoraGate = 1u << 4,
  kLoraUp = 1u << 5,
  kLoraDown = 1u << 6,
};
/// Every bit of LoraTarget.
constexpr std::uint32_t kLoraAll = (1u << 7) - 1;

/// The model a training code declares once (FLOPLEDGER_MODEL JSON file or the C API). Zero in an
/// optional structural field means "not declared" (or "the default" where one is named).
struct ModelSpec {
  std::string name;                   ///< required, free text
  std::uint64_t params_total = 0;     ///< required, >= 1: every parameter of the model
  std::uint64_t params_trainable = 0; ///< required, 1..params_total (LoRA: the adapters)
  std::uint64_t layers = 0;           ///< transformer blocks; 0 = structure not declared
  std::uint64_t hidden = 0;           ///< d, the model width; 0 = structure not declared
  std::uint64_t heads = 0;            ///< query heads; required with the structure
  std::uint64_t kv_heads = 0;         ///< key/value heads (GQA, MQA); 0 = heads
  std::uint64_t head_dim = 0;         ///< 0 = hidden / heads
  std::uint64_t ffn_hidden = 0;       ///< MLP inner width; 0 = 4 * hidden
  bool gated_mlp = false;             ///< SwiGLU-style: gate, up, down (3 matrices) instead of 2
  std::uint64_t vocab = 0;            ///< vocabulary size (LM head d x vocab); required with it
  std::uint64_t seq_len = 0;          ///< maximum sequence length; informational, 0 = unknown
  std::uint64_t experts = 0;          ///< MoE experts per layer; 0 or 1 = dense MLP
  std::uint64_t experts_top_k = 0;    ///< experts active per token; 1..experts with MoE
  std::uint64_t lora_rank = 0;        ///< 0 = full fine-tune
  std::uint32_t lora_targets = kLoraQ | kLoraV; ///< LoraTarget bits; used when lora_rank > 0
  bool causal = true;                           ///< causal (decoder) attention mask
  bool tied_embeddings = false; ///< LM head shares the input embedding (parameter count only)
};

/// Parses a comma-separated list of projection names ("q,v", "q,k,v,o,gate,up,down") or "all"
/// into LoraTarget bits. Returns true and sets `bits`; on failure returns false and sets `error`
/// (names the unknown or repeated item and lists the valid ones), leaving `bits` unchanged.
bool parse_lora_targets(std::string_view text, std::uint32_t &bits, std::string &error);
/// The canonical list for `bits` in the fixed order q,k,v,o,gate,up,down, e.g. "q,v"; "" for 0.
std::string lora_targets_to_string(std::uint32_t bits);

/// Parses the FLOPLEDGER_MODEL JSON file: one flat object whose keys are the ModelSpec field
/// names; integers are exact non-negative decimals (no sign, fraction, exponent or leading
/// zero) up to 2^64-1, booleans are true/false, `name` and `lora_targets` are strings. Required:
/// name, params_total, params_trainable. Unknown, repeated or missing keys, values of the wrong
/// type, and anything after the closing brace are errors; so is a spec that fails
/// validate_model. Returns true and replaces `out`; on failure returns false, leaves `out`
/// unchanged and sets `error` to one message starting with `origin` (e.g. the file path) that
/// names the key or position and what was expected.
bool parse_model_json(std::string_view text, const std::string &origin, ModelSpec &out,
                      std::string &error);

/// `spec` as the JSON that parse_model_json reads back to an equal spec: every required key and
/// boolean, and the optional integers that are not 0 (lora_targets only when lora_rank > 0).
std::string model_to_json(const ModelSpec &spec);

/// Checks the consistency of `spec`. Returns true when usable; otherwise false with `error`
/// naming the first offending field, its value and what was expected (e.g. "kv_heads=3: expected
/// a divisor of heads=32").
bool validate_model(const ModelSpec &spec, std::string &error);

/// Matmul weights active per token (each weight is one multiply-add per token in the forward
/// pass), resolved from the structure or, when layers/hidden are not declared, from the
/// parameter counts.
struct ActiveWeights {
  u128 all = 0;                ///< M: every matmul weight a token passes through, adapters too
  u128 trainable = 0;          ///< Mt: those that receive a weight gradient
  bool from_structure = false; ///< false: M = params_total, Mt = params_trainable (6ND)
  bool saturated = false;      ///< a sum or product exceeded 2^128-1 and was clamped
};

/// M and Mt of `spec` (definitions in docs/methods.md). Never fails; an invalid spec gives
/// whatever its fields imply, so callers validate first.
ActiveWeights active_matmul_weights(const ModelSpec &spec);

/// A: forward FLOPs of the attention scores and the weighted sum (Q K^T and A V) over a period
/// = 4 * layers * heads * head_dim * pairs, pairs = (sum_sq + tokens) / 2 when causal (sum of
/// s(s+1)/2 over the sequences) else sum_sq. `tokens` = sum of s, `sum_sq` = sum of s^2. Zero
/// when the structure is not declared; saturates at 2^128-1 (setting `saturated` when given).
u128 attention_flops(const ModelSpec &spec, u128 tokens, u128 sum_sq, bool *saturated = nullptr);

/// Sum of s^2 when every sequence has the full length seq_len: tokens * seq_len (saturating).
u128 sum_sq_full_sequences(u128 tokens, std::uint64_t seq_len);

/// An estimate and how it was obtained.
struct AnalyticResult {
  u128 flops = 0;          ///< saturated at 2^128-1 when `saturated`
  std::string method_note; ///< one line for the report: formula, M, Mt, A, approximations
  bool from_structure = false;
  bool saturated = false;
};

/// Training FLOPs of a period of `tokens` tokens with sum of squared sequence lengths `sum_sq`:
/// forward 2*M*tokens + A, backward activation gradients 2*M*tokens + 2*A, weight gradients
/// 2*Mt*tokens; i.e. 6*M*tokens + 3*A (full fine-tune) or 4*M*tokens + 2*Mt*tokens + 3*A (LoRA).
/// Activation recomputation is not included. Never fails; overflow saturates and is flagged.
AnalyticResult analytic_training_flops(const ModelSpec &spec, u128 tokens, u128 sum_sq);

/// Inference FLOPs (e.g. synthetic-data generation) of `tokens` tokens: 2*M*tokens + A, with A
/// as in attention_flops (the prefix each token attends to; no KV-cache reuse assumed beyond
/// that). Saturates at 2^128-1 on overflow.
u128 analytic_inference_flops(const ModelSpec &spec, u128 tokens, u128 sum_sq);

/// The AWS Fine-Tuning FLOPs Meter formula: (4 * params_total + 2 * params_trainable) * tokens.
/// Attention is not included. Saturates at 2^128-1 on overflow.
u128 aws_ftfm_flops(const ModelSpec &spec, u128 tokens);

/// The Hugging Face Trainer formula (floating_point_ops): 6 * params_total * tokens. HF itself
/// passes the parameter count without embeddings when it can; flopledger uses params_total (see
/// docs/methods.md). Attention is not included; frozen weights' gradients are. Saturates.
u128 hf_flops(const ModelSpec &spec, u128 tokens);

/// The hardware-based estimate: devices x seconds x peak FLOP/s x utilisation.
struct HardwareEstimate {
  bool applicable = false; ///< false: `reason` says why, `flops` is 0
  std::string reason;      ///< empty when applicable
  u128 flops = 0;          ///< rounded to the nearest integer, saturated at 2^128-1
};

/// devices * seconds * peak_flops_per_second * utilisation, rounded to nearest. Not applicable
/// when devices or peak is 0 ("CPU run: no accelerator peak known"), or (reason naming the
/// value) when seconds is negative or not finite, or utilisation is not in (0, 1].
HardwareEstimate hardware_flops(std::uint32_t devices, double seconds, u128 peak_flops_per_second,
                                double utilisation);

/// The range spanned by the figures of several methods.
struct Bracket {
  u128 low = 0;
  u128 high = 0;
  bool within_tolerance = false; ///< 100 * (high - low) <= tolerance_percent * low
  double spread = 0;             ///< (high - low) / low for display; +inf when low is 0 < high
};

/// low and high of `figures` and whether they agree within `tolerance_percent`: exactly,
/// 100 * (high - low) <= tolerance_percent * low, i.e. whichever figure is taken as the true
/// value, every other is within tolerance_percent of it ("accurate within 30%"). An empty list
/// gives {0, 0, false, 0}; a single figure agrees with itself.
Bracket bracket(const std::vector<u128> &figures, unsigned tolerance_percent);

/// Whether `estimate` is within `tolerance_percent` of `reference`, exactly:
/// 100 * |estimate - reference| <= tolerance_percent * reference.
bool within_percent(u128 estimate, u128 reference, unsigned tolerance_percent);

} // namespace flopledger
