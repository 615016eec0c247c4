"""Solutions to the exercises of lesson 02.

Check them with ``check_block_channels(CHANNEL_ANSWERS)`` and
``check_innermost_up_fix(make_innermost_up)`` from ``zi2zi_lessons.checks``.
"""

from torch import nn

# Exercise 1. The child is innermost (outer 128, inner 256, style 64); the parent
# (outer 64, inner 128) concatenates its own skip. Keys are the child's join mode.
CHANNEL_ANSWERS = {
    # the child hands back x (128) beside its up path (128); the parent takes all 256
    "concat": {"child_up_in": 256 + 64, "child_out": 128 + 128, "parent_up_in": 256,
               "parent_up_conv_parameters": 4 * 4 * 256 * 64},
    # x + up keeps 128 channels; so does "none" (up alone)
    "add": {"child_up_in": 256 + 64, "child_out": 128, "parent_up_in": 128,
            "parent_up_conv_parameters": 4 * 4 * 128 * 64},
    "none": {"child_up_in": 256 + 64, "child_out": 128, "parent_up_in": 128,
             "parent_up_conv_parameters": 4 * 4 * 128 * 64},
}


# Exercise 2. Keep the stride-2 up-convolution (it must double the map back to the
# size the down path started from), then refine at the same size with a 3x3, stride-1,
# padding-1 convolution. The block adds its own norm after this module.
def make_innermost_up(in_channels: int, out_channels: int) -> nn.Module:
    return nn.Sequential(
        nn.ConvTranspose2d(in_channels, out_channels, kernel_size=4, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=3, stride=1, padding=1, bias=False),
    )
