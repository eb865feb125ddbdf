"""A tiny Llama chat model made on the spot, with no network and no torch on the host.

`make_tiny_llama(folder)` writes what `LlamaForCausalLM.save_pretrained` and
`PreTrainedTokenizerFast.save_pretrained` would write for a 2-layer, 64-wide Llama with random
weights: config.json, generation_config.json, model.safetensors (float32, written with
safetensors' numpy API), and a byte-level BPE tokenizer trained in-process with `tokenizers` on a few
sentences, with a chat template in tokenizer_config.json. About 0.5 MB; `transformers serve` loads it.
Shared by the image-side (serve profile) and deploy-side (compose, up/down) engine tests.
"""

from __future__ import annotations

import json
from pathlib import Path

SENTENCES = [
    "Hello, how are you today?",
    "The container image serves a tiny model.",
    "dockyard builds images for transformers on every accelerator.",
    "A quick brown fox jumps over the lazy dog.",
    "user assistant system: answer briefly and politely.",
]
SPECIAL = ["<unk>", "<s>", "</s>"]
# A Llama-style chat template (role headers, end of turn = eos), written for this test.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ message['role'] }}: {{ message['content'] }}{{ eos_token }}"
    "{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}"
)
HIDDEN, INTERMEDIATE, LAYERS, HEADS, VOCAB = 64, 128, 2, 4, 384


def make_tiny_llama(folder: Path, seed: int = 0) -> Path:
    """Write the tiny model into `folder` (created) and return it."""
    import numpy as np
    from safetensors.numpy import save_file
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(SENTENCES, trainer=trainer)
    tokenizer.save(str(folder / "tokenizer.json"))
    vocab = tokenizer.get_vocab_size()
    bos, eos = tokenizer.token_to_id("<s>"), tokenizer.token_to_id("</s>")

    _write_json(folder / "tokenizer_config.json", {
        "tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<s>", "eos_token": "</s>",
        "unk_token": "<unk>", "pad_token": "</s>", "model_max_length": 256, "chat_template": CHAT_TEMPLATE,
    })
    _write_json(folder / "special_tokens_map.json",
                {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "</s>"})
    _write_json(folder / "config.json", {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": HIDDEN,
        "intermediate_size": INTERMEDIATE, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
        "num_key_value_heads": HEADS, "head_dim": HIDDEN // HEADS, "vocab_size": vocab,
        "max_position_embeddings": 256, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "hidden_act": "silu",
        "tie_word_embeddings": False, "bos_token_id": bos, "eos_token_id": eos, "pad_token_id": eos,
        "attention_bias": False, "mlp_bias": False, "initializer_range": 0.02, "dtype": "float32",
        "use_cache": True,
    })
    _write_json(folder / "generation_config.json",
                {"bos_token_id": bos, "eos_token_id": eos, "pad_token_id": eos, "max_new_tokens": 16})

    rng = np.random.default_rng(seed)

    def weight(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    tensors = {"model.embed_tokens.weight": weight(vocab, HIDDEN), "lm_head.weight": weight(vocab, HIDDEN),
               "model.norm.weight": np.ones(HIDDEN, dtype=np.float32)}
    for i in range(LAYERS):
        layer = f"model.layers.{i}"
        for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
            tensors[f"{layer}.self_attn.{proj}.weight"] = weight(HIDDEN, HIDDEN)
        tensors[f"{layer}.mlp.gate_proj.weight"] = weight(INTERMEDIATE, HIDDEN)
        tensors[f"{layer}.mlp.up_proj.weight"] = weight(INTERMEDIATE, HIDDEN)
        tensors[f"{layer}.mlp.down_proj.weight"] = weight(HIDDEN, INTERMEDIATE)
        tensors[f"{layer}.input_layernorm.weight"] = np.ones(HIDDEN, dtype=np.float32)
        tensors[f"{layer}.post_attention_layernorm.weight"] = np.ones(HIDDEN, dtype=np.float32)
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    return folder


def _write_json(path: Path, data: dict[str, object]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


# The spec a user writes: the cpu-serve preset (CPU torch, transformers with its serving extra) and a
# local model folder.
SERVE_SPEC = """[image]
name = "{name}"
extends = "cpu-serve"
[serve]
model = "path:{model}"
"""


def write_serve_spec(folder: Path, name: str, model_dir: str = "tiny-llama") -> Path:
    """A tiny model in `folder/model_dir` and the five-line serve spec next to it; returns the spec path."""
    make_tiny_llama(folder / model_dir)
    spec = folder / "serve.toml"
    spec.write_text(SERVE_SPEC.format(name=name, model=model_dir), encoding="utf-8")
    return spec
