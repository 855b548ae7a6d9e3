"""InternVL2-2B's sizes with random weights, on vlmrun's InternVL-interface test model (internvl_remote/): measures
throughput on a GPU without downloading weights. Answers are noise; timings are what matters.

The sizes are the published checkpoint's: the vision side is InternViT-300M-448px's (24 layers, width 1024, 16
heads, MLP 4096, 448 px tiles of 14 px patches: 1024 patches + a class row), here CLIP's encoder of those sizes;
the pixel shuffle (0.5) and the projector (LayerNorm 4096, 4096 -> 2048 -> 2048) are InternVL's; the language model
is InternLM2-chat-1.8B's (24 layers, width 2048, 16 heads, 8 key/value heads, MLP 8192, vocabulary 92553), here
Llama's decoder of those sizes with eager attention, as the real InternLM2 remote code runs without flash-attn
(which vlmrun's images do not carry). 2.2 billion parameters, saved in bfloat16 (4.4 GB)."""
from .internvl import make as _make

INTERNLM2_1_8B = dict(vocab_size=92553, hidden_size=2048, intermediate_size=8192, num_hidden_layers=24,
                      num_attention_heads=16, num_key_value_heads=8, max_position_embeddings=32768,
                      rope_theta=1000000.0, rms_norm_eps=1e-05, attn_implementation="eager")
INTERN_VIT_300M = dict(vision_hidden=1024, vision_layers=24, vision_heads=16, vision_intermediate=4096)


def make(out_dir):
    _make(out_dir, llm_sizes=INTERNLM2_1_8B, vision=INTERN_VIT_300M, dtype="bfloat16")
