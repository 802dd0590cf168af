"""What a model expects of its data, checked the same way for every kind of data (Keras 2's
`standardize_input_data`, `check_array_length_consistency` and `check_loss_and_target_compatibility`).

Arrays are checked whole, once, before anything runs (`BatchPlan.check`). Batches from generators, Sequences
and torch data are checked as they arrive (`BatchPlan.check_batch`): the first batch of every epoch in full
(shapes against the model's inputs and outputs, targets against their losses, sample weights, label values),
and every other batch by its *signature* (each position's trailing shape and dtype) looked up in the set of
signatures already accepted: O(1) Python work per batch; a batch with a new signature is checked in full.

Values are read only where a loss would otherwise fail inside torch: the class indices of
`sparse_categorical_crossentropy`, which must be whole numbers in [0, classes).
"""
import numpy as np
import torch

from fitgen.data import structure
from fitgen.data.weights import check_sample_weights

SPARSE = "sparse_categorical_crossentropy"
# Out-of-core labels are sampled up to this many values (in-memory labels are read whole).
LABEL_SAMPLE = 100000


class BatchPlan:
    """The checks of `model`'s data, with what they compare against computed once.

    Args:
        model: a built model (its inputs and outputs may be unknown for a subclassed model: those checks are
            then skipped).
        arguments: the names of (inputs, targets, sample weights) in messages, e.g. ('x', 'y', 'sample_weight')
            or ('x_val', 'y_val', 'val_sample_weight').
        check_targets: compare targets against the outputs and losses (off for predict).
    """

    def __init__(self, model, arguments=("x", "y", "sample_weight"), check_targets=True):
        self.model = model
        self.arguments = arguments
        self.check_targets = check_targets
        self.specs = list(getattr(model, "_output_specs", None) or [])
        self.sparse_classes = {spec.index: _output_units(model, spec) for spec in self.specs
                               if structure.loss_kind(spec.loss_fn) == SPARSE}
        self.accepted = set()

    def check(self, x_list, y_list, sw_list, values=True):
        """All checks of aligned arrays (ValueError naming the input or output and the shapes)."""
        structure.check_input_shapes(self.model, x_list)
        if not self.check_targets or all(y is None for y in y_list) or not self.specs:
            return
        structure.check_target_shapes(self.model, self.specs, y_list)
        check_sample_weights(self.specs, y_list, sw_list, self.arguments[2])
        if values and self.sparse_classes:
            check_labels(self.specs, y_list, self.sparse_classes, self.arguments[1])

    def check_batch(self, x_list, y_list, sw_list, first):
        """A streamed batch: in full when `first` (of its epoch) or of a signature not seen yet."""
        signature = tuple([None if a is None else (a.shape[1:], a.dtype) for a in (*x_list, *y_list, *sw_list)])
        if not first and signature in self.accepted:
            return
        self.check(x_list, y_list, sw_list, values=first)
        self.accepted.add(signature)


def check_labels(specs, y_list, sparse_classes, argument="y"):
    """sparse_categorical_crossentropy reads class indices: whole numbers in [0, number of output units)."""
    for spec, y in zip(specs, y_list):
        if y is None or spec.index not in sparse_classes:
            continue
        sample = _label_sample(y)
        if sample.size == 0:
            continue
        if sample.dtype.kind == "f" and not np.all(np.isfinite(sample) & (np.mod(sample, 1) == 0)):
            raise ValueError(f"Output {spec.name!r} uses sparse_categorical_crossentropy, which expects integer "
                             f"class indices, but `{argument}` holds non-integral values (e.g. "
                             f"{sample[~(np.mod(sample, 1) == 0)][:3].tolist()}). Pass integer labels, or one-hot "
                             "targets with categorical_crossentropy.")
        classes = sparse_classes[spec.index]
        if classes is None:
            continue
        low, high = sample.min(), sample.max()
        if low < 0 or high >= classes:
            bad = low if low < 0 else high
            raise ValueError(f"Received a label value of {bad.item()!r} in `{argument}`, which is outside the valid "
                             f"range [0, {classes}) for output {spec.name!r}: its loss sparse_categorical_crossentropy "
                             f"expects class indices below the output's {classes} units.")


def _label_sample(y):
    """The labels as a NumPy array: all of them in memory, the first LABEL_SAMPLE of an out-of-core array."""
    if isinstance(y, torch.Tensor):
        y = y.detach()
        if y.dtype == torch.bfloat16 or y.dtype == torch.float16:
            y = y.float()
        return y.cpu().numpy()
    if type(y) is np.ndarray:
        return y
    return np.asarray(y[: min(len(y), LABEL_SAMPLE)])


def _output_units(model, spec):
    if model.outputs is None:
        return None
    last = model.outputs[spec.index].shape[-1]
    return None if last is None else int(last)
