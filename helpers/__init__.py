"""The course library of *LLMs from Dummies*: one module per concept.

Notebooks import from here; a later chapter imports an earlier chapter's code
instead of copying it, and a notebook that teaches a helper shows its source
(:func:`helpers.source.show`). Each public helper's docstring names the notebook
that teaches it.

One name per quantity, in every module:

=================  ==============================================================
``B``              batch size: sequences processed together
``T``              tokens in the sequence at hand (a shape, never a setting)
``vocab_size``     token ids a model knows (``V`` in shape comments)
``d_model``        width of every token's vector (GPT-2 small: 768)
``n_heads``        attention heads; ``head_dim = d_model // n_heads``
``n_layers``       transformer blocks
``n_kv_heads``     key/value heads of grouped-query attention (notebook 15); ``n_heads`` is multi-head
``hidden_dim``     width of a feed-forward's hidden layer (GPT-2: 4 · d_model; SwiGLU: about 8/3 · d_model)
``n_experts``      feed-forward experts of a mixture-of-experts layer; ``top_k`` of them per token (notebook 16)
``context_length`` the most tokens a model reads at once (GPT-2: 1,024)
``d_in, d_out``    input and output widths of one projection (``nn.Linear(d_in, d_out)``)
``token_ids``      a (B, T) tensor of ids; ``logits`` (B, T, vocab_size)
=================  ==============================================================
"""
