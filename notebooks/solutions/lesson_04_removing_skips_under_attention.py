"""Solutions to the exercises of 04_removing_skips_under_attention.ipynb.

Load one into a cell with ``%load solutions/lesson_04_removing_skips_under_attention.py``.
"""


# Exercise 1: the bookkeeping rule, from the configuration alone.
def up_conv_in_channels(config):
    """{level: channels the level's up-convolution reads}: what the child hands back."""
    channels = {}
    for level in range(1, config.num_downs + 1):
        if level == config.num_downs:  # innermost: the encoded map plus the style embedding
            channels[level] = config.level_channels(level)[1] + config.embedding_dim
            continue
        child_input, _, child_outer = config.level_channels(level + 1)
        if config.level_skip(level + 1) == "concat":
            channels[level] = child_input + child_outer  # the child's x next to its up path
        else:  # "add" or "none": the child hands back its up path's width
            channels[level] = child_outer
    return channels


# Exercise 2: classic zi2zi (8 levels, concat, transposed convolutions) with attention on
# levels 6 and 8 and no skip under them. Removing level 6's and level 8's concatenation
# narrows the up-convolutions of their parents, levels 5 and 7, from 1024 to 512 input
# channels. Each is ConvTranspose2d(k=4, out=512, no bias with BatchNorm):
# (1024 - 512) * 512 * 4 * 4 = 4,194,304 weights fewer each. Attention is there in both.
parameter_change = -2 * (1024 - 512) * 512 * 4 * 4  # -8,388,608
