"""DEMO heads: random-weight models whose greedy answers are real answer words, at chance level.

A tiny random model answers noise, so every answer of the demo reads "Unknown" and scores 0. A demo model
is the same random model with a few weights set by hand, so that, through the real adapter, processor and
generate() path:

- the answer is one word of the benchmark's format: "Yes"/"No" when the prompt asks for yes or no, an
  option letter when it lists options (a line starting "A. "), else any of them;
- which word is picked depends on the random features of the last position (image and question), so
  answers differ per row and per model and score at chance level;
- the word is followed by end-of-sequence.

How (the residual stream keeps six dimensions apart, which no layer writes and no layer reads):

- ONE: every token embedding holds a constant there (a bias for the output layer);
- END: answer-word embeddings hold a large value there; the output row of the eos token reads it, so eos
  follows an answer word;
- MARK[g]: the marker token of answer group g ("yes or no", "\nA. ") holds a value there;
- SEEN[g]: head 0 of layer g attends to MARK[g] tokens (its query reads ONE, its key reads MARK[g] in the
  lowest rotary frequency, so the distance barely matters) and writes what it finds into SEEN[g]; the
  output rows of group g's answer words read it, so that group wins when its marker is in the prompt.

Every other output row is zero. The rest of each answer row is a random direction over the free dimensions,
centred on the features of a few calibration prompts so that no answer is favoured by the fixed chat
template. Nothing here knows any benchmark's rows or answers.
"""
N_TXT = 4  # dimensions that carry the question's words
GROUPS = (("yes or no", ("Yes", "No")), ("\nA. ", ("A", "B", "C", "D")))  # (marker, answer words)
# which sign of the two waves (see _wave) each answer word reads: one wave decides yes/no, two the letter
SIGNS = {"Yes": (1, 0), "No": (-1, 0), "A": (1, 1), "B": (1, -1), "C": (-1, 1), "D": (-1, -1)}


def answer_tokens(tok):
    """Add the answer words and markers that are not single tokens yet (before the config's vocab_size)."""
    words = [w for marker, answers in GROUPS for w in (marker, *answers)]
    tok.add_tokens([w for w in words if len(tok.tokenize(w)) != 1])


def install(tok, embed, head, norm, layers, writers, n_heads, n_kv_heads, eos_id, run_prompt, size_range, seed=0):
    """embed/head: the language model's input embedding and output layer (untied); layers: its decoder layers
    (Llama-shaped: self_attn.{q,k,v,o}_proj, mlp.{gate,up,down}_proj, post_attention_layernorm); norm: the
    final norm; writers: other Linear layers whose output lands in the residual stream (the vision
    projector); run_prompt(image, question): one forward pass of the model on that prompt, through its own
    processor; size_range: the calibration images' sides in pixels."""
    import torch

    hidden = embed.weight.shape[1]
    if len(GROUPS) > len(layers):
        raise ValueError(f"a demo head needs {len(GROUPS)} decoder layers, the model has {len(layers)}")
    if head.weight.data_ptr() == embed.weight.data_ptr():
        raise ValueError("a demo head needs an output layer not tied to the input embedding")
    if n_kv_heads < 2:
        raise ValueError("a demo head needs two key/value heads in its first layer")
    g_count = len(GROUPS)
    ONE, END = hidden - 1, hidden - 2
    MARK = [hidden - 3 - g for g in range(g_count)]
    SEEN = [hidden - 3 - g_count - g for g in range(g_count)]
    TXT = [hidden - 3 - 2 * g_count - j for j in range(N_TXT)]
    OUT = [hidden - 3 - 2 * g_count - N_TXT - k for k in range(2)]
    kept = [ONE, END, *MARK, *SEEN, *TXT, *OUT]
    free = [d for d in range(hidden) if d not in kept]
    ids = lambda word: tok.convert_tokens_to_ids(tok.tokenize(word))[0]  # noqa: E731
    answers = {ids(w): g for g, (_, group) in enumerate(GROUPS) for w in group}
    words = {ids(w): w for _, group in GROUPS for w in group}

    with torch.no_grad():
        e = embed.weight
        e[:, kept] = 0
        e[:, ONE] = 1.0
        for t in answers:
            e[t, END] = 10.0
        for g, (marker, _) in enumerate(GROUPS):
            e[ids(marker), MARK[g]] = 1.0
        for lin in writers:
            _zero_rows(lin, kept)
        head_dim = hidden // n_heads
        low = head_dim // 2 - 1  # the rotary pair (low, low + head_dim/2) turns slowest
        for layer in layers:
            a, m = layer.self_attn, layer.mlp
            for lin in (a.q_proj, a.k_proj, a.v_proj, m.gate_proj, m.up_proj):
                lin.weight[:, kept] = 0
            for lin in (a.o_proj, m.down_proj):
                _zero_rows(lin, kept)
        for g in range(g_count):
            a = layers[g].self_attn
            rows = slice(0, head_dim)  # query head 0 and key/value head 0
            for lin in (a.q_proj, a.k_proj, a.v_proj):
                lin.weight[rows] = 0
                if lin.bias is not None:
                    lin.bias[rows] = 0
            a.q_proj.weight[low, ONE] = 2.0
            a.k_proj.weight[low, MARK[g]] = 2.0
            a.v_proj.weight[0, MARK[g]] = 1.0
            a.o_proj.weight[:, : head_dim * (n_heads // n_kv_heads)] = 0  # the query heads sharing kv head 0
            a.o_proj.weight[SEEN[g], 0] = 0.2
        _text_bag(layers[0].self_attn, head_dim, n_heads // n_kv_heads, ONE, TXT, free, low, seed)

        w = head.weight
        w.zero_()
        if getattr(head, "bias", None) is not None:
            head.bias.zero_()
        w[eos_id, END] = 100.0
        mlp = layers[-1].mlp
        calibrate = lambda module: _calibrate(module, run_prompt, size_range)  # noqa: E731
        calib = calibrate(layers[-1].post_attention_layernorm).float()  # the last MLP's input, last position
        raw = calib / calib[..., ONE:ONE + 1]  # before the norm: the scale the knots are in
        src = [*TXT, *free]
        gen = torch.Generator().manual_seed(seed)
        for k, out in enumerate(OUT):
            txt = raw[..., TXT]
            within = (txt - txt.mean(1, keepdim=True)).flatten(0, 1)  # the question varies, the image not
            img = raw[..., free].mean(1)  # the image varies
            u = torch.cat([_direction(within, gen), _direction(img - img.mean(0), gen)])
            s = raw[..., src].flatten(0, 1) @ u
            _wave(mlp, k, src, u, float(s.mean()), float(s.std()), ONE, out)
        final = calibrate(norm).float()
        one, wave = final[..., ONE].mean(), final[..., OUT].flatten(0, 1).std(0)
        for t, g in answers.items():
            w[t, SEEN[g]] = 50.0
            w[t, ONE] = float(30.0 / one)
            for sign, out, spread in zip(SIGNS[words[t]], OUT, wave):
                w[t, out] = float(10.0 * sign / spread)


def _text_bag(attn, head_dim, group, ONE, TXT, free, low, seed):
    """Key/value head 1: its first query head attends evenly to the text tokens (the ones with ONE set; image
    features have none) and writes a random projection of their mean embedding into TXT: the words of the
    question, independent of the image."""
    import torch

    gen = torch.Generator().manual_seed(seed + 1)
    kv = slice(head_dim, 2 * head_dim)
    q = slice(group * head_dim, (group + 1) * head_dim)
    for lin, rows in ((attn.q_proj, q), (attn.k_proj, kv), (attn.v_proj, kv)):
        lin.weight[rows] = 0
        if lin.bias is not None:
            lin.bias[rows] = 0
    attn.q_proj.weight[q.start + low, ONE] = 2.0
    attn.k_proj.weight[kv.start + low, ONE] = 2.0
    proj = torch.randn(len(TXT), len(free), generator=gen) / len(free) ** 0.5
    attn.v_proj.weight[kv.start: kv.start + len(TXT), free] = proj.to(attn.v_proj.weight.dtype)
    attn.o_proj.weight[:, group * head_dim: 2 * group * head_dim] = 0  # the query heads sharing kv head 1
    for j, d in enumerate(TXT):
        attn.o_proj.weight[d, q.start + j] = 1.0


def _wave(mlp, k, src, u, mean, std, ONE, out):
    """Units of the last MLP that write a zero-mean triangle wave of s = u . x (the residual before the norm)
    into dimension out: a period of 1.5 standard deviations of s over the calibration prompts, knots over
    +-15 of them, so that the sign of the wave, hence the answer, is a coin flip per prompt however far
    a benchmark's prompts sit from the calibration ones."""
    period, sharp = 1.5 * std, 40.0 / std
    knots = [mean + (j / 2 - 10) * period for j in range(41)]  # 41 knots: slopes +1, -1, ..., +1, then flat
    coef = [1.0] + [2.0 * (-1) ** j for j in range(1, len(knots) - 1)] + [(-1.0) ** (len(knots) - 1)]
    units = list(range(k * (len(knots) + 1), (k + 1) * (len(knots) + 1)))
    if units[-1] >= mlp.gate_proj.out_features:
        raise ValueError("a demo head needs a wider MLP in its last layer")
    gate, up, down = mlp.gate_proj.weight, mlp.up_proj.weight, mlp.down_proj.weight
    gate[units], up[units], down[:, units] = 0, 0, 0
    for unit, c, a in zip(units, knots, coef):  # silu(sharp * (s - c)) ~ sharp * relu(s - c), times up = 1
        gate[unit, src] = (sharp * u).to(gate.dtype)
        gate[unit, ONE] = -sharp * c
        up[unit, ONE] = 1.0
        down[out, unit] = a / sharp
    # the wave runs from 0 to period/2 between the knots: an always-on unit takes its mean, period/4, off
    gate[units[-1], ONE], up[units[-1], ONE] = sharp, 1.0
    down[out, units[-1]] = -period / 4 / sharp


def _direction(spread, gen):
    """A random direction among those the rows of spread vary along, scaled so that spread @ it has std 1."""
    import torch

    _, sv, basis = torch.linalg.svd(spread, full_matrices=False)
    keep = sv > sv[0] * 1e-3
    mix = torch.randn(int(keep.sum()), generator=gen)
    r = (mix / mix.norm()) @ basis[keep]
    return r / (spread @ r).std().clamp_min(1e-6)


def _zero_rows(lin, rows):
    lin.weight[rows] = 0
    if lin.bias is not None:
        lin.bias[rows] = 0


def calibration_images(n=8, size_range=(56, 448), seed=1):
    """Made-up pictures (smooth colour fields plus noise) of assorted sizes: nothing from any benchmark."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        w, h = (int(x) for x in rng.integers(*size_range, size=2))
        yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
        base = rng.uniform(0, 255, (3, 1, 1)) + rng.uniform(-120, 120, (3, 1, 1)) * xx + rng.uniform(-120, 120, (3, 1, 1)) * yy
        pix = np.clip(base + rng.normal(0, 25, (3, h, w)), 0, 255).astype("uint8").transpose(1, 2, 0)
        out.append(Image.fromarray(pix))
    return out


def calibration_questions():
    things = ["a dog", "two people", "a red car", "a sign", "a tree", "the sky"]
    forms = ["Is there {} in the image? Please answer yes or no.",
             "Question: What is shown?\nOptions:\nA. {}\nB. a cat\nC. a bus\nD. a cup\nAnswer with the letter.",
             "Is {} on the left? Please answer yes or no.",
             "What colour is {}? Answer the question using a single word or phrase."]
    return [forms[i % len(forms)].format(things[i % len(things)]) for i in range(8)]


def _calibrate(module, run_prompt, size_range):
    """module's output at the last position, (images, questions, hidden), for each calibration image with each
    calibration question, with the weights as they are now."""
    import torch

    return torch.stack([torch.stack([last_hidden(module, lambda: run_prompt(image, question))
                                     for question in calibration_questions()])
                        for image in calibration_images(size_range=size_range)])


def last_hidden(module, run):
    """module's output at the last position in the first forward pass that run() makes."""
    import torch

    seen = []
    hook = module.register_forward_hook(lambda mod, args, out: seen.append(out[0, -1].detach().clone()))
    try:
        with torch.no_grad():
            run()
    finally:
        hook.remove()
    return seen[0]
