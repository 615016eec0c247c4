"""Solutions to the exercises of 05_where_attention_goes.ipynb.

Load one into a cell with ``%load solutions/lesson_05_where_attention_goes.py``.
"""


# Exercise 1: a side x side map has N = side^2 pixels; the weights are N x N per image.
def matrix_bytes(side, batch, bytes_per_entry):
    pixels = side * side
    return batch * pixels * pixels * bytes_per_entry


# Exercise 2: with ngf=16 the encoded widths are 16, 32, 64 and then 128 on levels 4-8.
# GroupNorm(32) needs a multiple of 32 and 8 heads a multiple of 8: only level 1 (16) fails.
levels_taking_the_diffusion_block = {2, 3, 4, 5, 6, 7, 8}
