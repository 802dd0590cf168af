"""CTC beam search decoding, as `K.ctc_decode(..., greedy=False)` returns it in tf-keras (TensorFlow's
`ctc_beam_search_decoder` with its v1 default `merge_repeated=True`).

Prefix beam search: each label sequence in the beam keeps the log-probability of ending in a blank and of ending
in its last label. At every step each beam first stays itself (a blank, its last label again, or grown into from
its parent when the parent is a beam too), then every beam, best first, grows by every label in turn; a grown
sequence enters the beam if the beam has room or it beats the weakest member, which then leaves. A repeated
label only grows a sequence after a blank.

TensorFlow's bookkeeping is followed where it decides which paths come out: scores are normalised per step
(log-softmax of the decoder's inputs); a sequence pushed out of the beam during a step and grown again from its
parent later in that step starts afresh from its parent's probability; one that then fails to enter loses its
probabilities for the rest of the step, so it grows no children; the returned score is the log-probability of
the sequence, and with `merge_repeated` equal consecutive labels of a returned path are emitted once.
"""
import heapq

import numpy as np

_NEG = -np.inf


def _total(probabilities):
    return np.logaddexp(*probabilities)


class _Beam:
    """The beam while a step fills it: a min-heap on total log-probability, and which sequences are in it."""

    def __init__(self, width):
        self.width, self.heap, self.members, self.count = width, [], {}, 0

    def full(self):
        return len(self.heap) >= self.width

    def weakest(self):
        return self.heap[0][0]

    def admits(self, total):
        return total > _NEG and (not self.full() or total > self.weakest())

    def add(self, sequence, probabilities):
        self.count += 1
        entry = (_total(probabilities), self.count, sequence)
        if self.full():
            del self.members[heapq.heapreplace(self.heap, entry)[2]]
        else:
            heapq.heappush(self.heap, entry)
        self.members[sequence] = probabilities

    def ranked(self):
        """(sequence, probabilities) best first (the earlier entry first among equals)."""
        return [(sequence, self.members[sequence]) for _, _, sequence in sorted(self.heap,
                                                                                 key=lambda e: (-e[0], e[1]))]


def beam_search(log_inputs, beam_width, top_paths, merge_repeated=True):
    """[(labels, log-probability)] of the `top_paths` best paths, best first, for `log_inputs` `(steps, classes)`
    (the last class is the blank).

    Raises:
        ValueError: when fewer than `top_paths` sequences remain in the beam (TensorFlow's error too).
    """
    steps, classes = log_inputs.shape
    blank = classes - 1
    inputs = log_inputs.astype(np.float64)
    inputs = inputs - np.logaddexp.reduce(inputs, axis=1, keepdims=True)
    ranked = [((), (0.0, _NEG))]  # the beam, best first: (sequence, (log P(blank end), log P(label end)))
    for t in range(steps):
        row = inputs[t]
        old = dict(ranked)
        beam = _Beam(beam_width)
        for sequence, (p_blank, p_label) in ranked:  # every beam stays itself
            stays_blank = _total((p_blank, p_label)) + row[blank]
            if sequence:
                parent = old.get(sequence[:-1])
                if parent is not None:
                    repeated = len(sequence) > 1 and sequence[-2] == sequence[-1]
                    p_label = np.logaddexp(p_label, parent[0] if repeated else _total(parent))
                p_label = p_label + row[sequence[-1]]
            beam.add(sequence, (stays_blank, p_label))
        beams_by_parent = {}
        for sequence in old:
            if sequence:
                beams_by_parent.setdefault(sequence[:-1], set()).add(sequence[-1])
        for sequence, _ in ranked:  # then grows, best beam first, label by label
            p_blank, p_label = old[sequence]
            total = _total((p_blank, p_label))
            if not beam.admits(total):  # no child can beat the weakest member (nor can a forgotten sequence)
                continue
            scores = row[:blank] + total
            if sequence:
                scores[sequence[-1]] = row[sequence[-1]] + p_blank  # a repeat needs a blank in between
            # Labels that cannot enter (the bar only rises) are skipped unless their sequence is a beam.
            labels = np.flatnonzero(scores > beam.weakest()) if beam.full() else range(blank)
            for label in sorted(set(int(k) for k in labels) | beams_by_parent.get(sequence, set())):
                child = sequence + (label,)
                if child in beam.members:
                    continue
                score = scores[label]
                if beam.admits(score):
                    beam.add(child, (_NEG, score))
                elif child in old:
                    old[child] = (_NEG, _NEG)  # pushed out earlier in this step, and not back: forgotten
        ranked = beam.ranked()
    if len(ranked) < top_paths:
        raise ValueError(f"ctc_decode: fewer sequences in the beam ({len(ranked)}) than top_paths={top_paths}. "
                         "Lower `top_paths` or raise `beam_width`.")
    return [(_emitted(sequence, merge_repeated), float(_total(probabilities)))
            for sequence, probabilities in ranked[:top_paths]]


def _emitted(sequence, merge_repeated):
    if not merge_repeated:
        return list(sequence)
    return [label for i, label in enumerate(sequence) if i == 0 or label != sequence[i - 1]]
