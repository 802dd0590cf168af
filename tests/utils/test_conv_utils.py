"""fitgen.utils.conv_utils (Keras 2's keras.utils.conv_utils): shape arithmetic, argument normalisation,
kernel conversion; and the layer modules that share it import it, not each other."""
import ast
import pathlib

import numpy as np
import pytest

from fitgen import backend
from fitgen.utils import conv_utils


def test_output_and_input_lengths():
    assert conv_utils.conv_output_length(None, 3, "valid", 1) is None
    assert conv_utils.conv_output_length(10, 3, "valid", 1) == 8
    assert conv_utils.conv_output_length(10, 3, "same", 2) == 5
    assert conv_utils.conv_output_length(10, 3, "full", 1) == 12
    assert conv_utils.conv_output_length(10, 3, "causal", 3) == 4
    assert conv_utils.conv_output_length(10, 3, "valid", 1, dilation=2) == 6
    for padding in ("valid", "same", "full"):
        out = conv_utils.conv_output_length(11, 3, padding, 2)
        assert conv_utils.conv_input_length(out, 3, padding, 2) in (10, 11)
    with pytest.raises(ValueError, match="padding"):
        conv_utils.conv_output_length(10, 3, "reflect", 1)


def test_deconv_lengths_in_both_spellings():
    assert conv_utils.deconv_output_length(5, 3, "valid", stride=2) == 11
    assert conv_utils.deconv_output_length(5, 3, "same", stride=2) == 10
    assert conv_utils.deconv_output_length(5, 3, "same", output_padding=0, stride=2) == 9
    assert conv_utils.deconv_output_length(5, 3, "full", stride=2) == 7
    assert conv_utils.deconv_output_length(None, 3, "same") is None
    # Keras 2.2: deconv_length(dim_size, stride_size, kernel_size, padding, output_padding, dilation)
    assert conv_utils.deconv_length(5, 2, 3, "valid", 1) == conv_utils.deconv_output_length(5, 3, "valid", 1, 2)


def test_normalizers():
    assert conv_utils.normalize_tuple(3, 2, "strides") == (3, 3)
    assert conv_utils.normalize_tuple([1, np.int64(2)], 2, "strides") == (1, 2)
    assert conv_utils.normalize_tuple((0, 1), 2, "output_padding", allow_zero=True) == (0, 1)
    for bad in ((1, 2, 3), (1, 0), "ab", 1.5):
        with pytest.raises(ValueError, match="strides"):
            conv_utils.normalize_tuple(bad, 2, "strides")
    assert conv_utils.normalize_padding("SAME") == "same" and conv_utils.normalize_padding("causal") == "causal"
    with pytest.raises(ValueError, match="padding"):
        conv_utils.normalize_padding("full")
    assert conv_utils.normalize_data_format("Channels_First") == "channels_first"
    assert conv_utils.normalize_data_format(None) == backend.image_data_format()
    with pytest.raises(ValueError, match="data_format"):
        conv_utils.normalize_data_format("NHWC")
    assert conv_utils.convert_data_format("channels_first", 4) == "NCHW"
    assert conv_utils.convert_data_format("channels_last", 5) == "NDHWC"


def test_convert_kernel_flips_spatial_axes_only():
    kernel = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    flipped = conv_utils.convert_kernel(kernel)
    np.testing.assert_array_equal(flipped, kernel[::-1, ::-1])
    np.testing.assert_array_equal(conv_utils.convert_kernel(flipped), kernel)
    with pytest.raises(ValueError, match="kernel"):
        conv_utils.convert_kernel(np.zeros((3, 3)))


def test_same_pads_follow_tensorflow():
    assert conv_utils.same_pads(7, 4, 2) == (1, 2)
    padding = conv_utils.SamePadding((3, 2), (1, 1))
    assert padding((5, 5)) == (0, (0, 1, 1, 1))
    assert conv_utils.SamePadding((3, 3), (1, 1))((5, 5)) == ((1, 1), ())


def _fitgen_imports(path):
    """The fitgen modules `path` imports at module level."""
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fitgen"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("fitgen"))
    return found


def test_layer_modules_share_conv_utils_without_an_import_cycle():
    root = pathlib.Path(conv_utils.__file__).resolve().parents[1]
    graph = {}
    for path in list((root / "layers").rglob("*.py")) + [root / "utils" / "conv_utils.py"]:
        name = ".".join(path.relative_to(root.parent).with_suffix("").parts).replace(".__init__", "")
        graph[name] = _fitgen_imports(path)
    modules = set(graph)

    def reaches(start, target, seen=()):
        return any(dep == target or (dep in modules and dep not in seen and reaches(dep, target, seen + (dep,)))
                   for dep in graph[start])

    for name in ("fitgen.layers.pooling", "fitgen.layers.reshaping", "fitgen.layers.noise", "fitgen.layers.local"):
        assert not reaches(name, "fitgen.layers.convolutional"), name
    assert not any(dep.startswith("fitgen.layers") for dep in graph["fitgen.utils.conv_utils"])
    cycles = [name for name in modules if name != "fitgen.layers" and reaches(name, name)]
    assert not cycles
