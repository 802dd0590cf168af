"""`MetricLogs`: log and History dicts that answer to the metric names of every Keras 2 release.

Keras 2.0-2.2 logged `metrics=['accuracy']` as `acc` / `val_acc` and `metrics=['mae']` as
`mean_absolute_error`; tf-keras logs `accuracy` and `mae`. Scripts of both eras read the other spelling:
`history.history['acc']`, `ModelCheckpoint(monitor='val_acc')`, `'weights.{epoch:02d}-{val_acc:.2f}.h5'`.
fitgen stores each value once, under the name written in `compile`; a lookup by the other spelling of the same
metric finds it. Iteration, `keys()`, `len()` and JSON see only the stored names, so a script that loops over
`history.history` (or a CSV of it) sees each curve once, as Keras showed it.
"""

# Each pair: two spellings of one metric's log key across Keras 2 releases.
_SPELLINGS = (
    ("acc", "accuracy"),
    ("mse", "mean_squared_error"),
    ("mae", "mean_absolute_error"),
    ("mape", "mean_absolute_percentage_error"),
    ("msle", "mean_squared_logarithmic_error"),
    ("kld", "kullback_leibler_divergence"),
    ("cosine", "cosine_proximity"),
    ("logcosh", "log_cosh"),
)
_OTHER_SPELLINGS = {}
for _short, _long in _SPELLINGS:
    _OTHER_SPELLINGS.setdefault(_short, []).append(_long)
    _OTHER_SPELLINGS.setdefault(_long, []).append(_short)


def other_spellings(key):
    """The same log key in the other Keras 2 releases' spelling: 'val_acc' -> ['val_accuracy'].

    The metric name is the key's last part after a 'val_' or '<output>_' prefix.
    """
    if not isinstance(key, str):
        return []
    out = []
    for name, others in _OTHER_SPELLINGS.items():
        if key == name or key.endswith("_" + name):
            prefix = key[:len(key) - len(name)]
            out.extend(prefix + other for other in others)
    return out


class MetricLogs(dict):
    """A dict of log values whose lookups also accept another Keras 2 release's spelling of a metric key.

    `logs['val_acc']` finds a value stored as 'val_accuracy' (and the reverse); iteration and `keys()` give the
    stored names only, so nothing is listed twice.
    """

    def _stored_key(self, key):
        for other in other_spellings(key):
            if dict.__contains__(self, other):
                return other
        return None

    def __missing__(self, key):
        stored = self._stored_key(key)
        if stored is None:
            raise KeyError(key)
        return dict.__getitem__(self, stored)

    def __contains__(self, key):
        return dict.__contains__(self, key) or self._stored_key(key) is not None

    def get(self, key, default=None):
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        stored = self._stored_key(key)
        return default if stored is None else dict.__getitem__(self, stored)

    def copy(self):
        return MetricLogs(self)
