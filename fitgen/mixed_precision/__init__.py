"""Mixed precision the Keras 2 way (`keras.mixed_precision`, tf-keras 2.4+): compute in float16 or bfloat16,
keep the weights in float32.

```python
from fitgen import mixed_precision
mixed_precision.set_global_policy("mixed_bfloat16")     # or "mixed_float16" on a GPU
model = Sequential([Dense(512, activation="relu", input_shape=(784,)), Dense(10),
                    Activation("softmax", dtype="float32")])  # the last layer's output in float32
model.compile("adam", "categorical_crossentropy")          # mixed_float16: the optimizer gets loss scaling
```

`Policy`, `global_policy`, `set_global_policy`, `LossScaleOptimizer`; TF 2.1-2.3's spellings are in
`fitgen.mixed_precision.experimental` (`Policy(name, loss_scale=...)`, `set_policy`, `global_policy`).
"""
from fitgen.mixed_precision import experimental
from fitgen.mixed_precision.policy import Policy
from fitgen.mixed_precision.policy import global_policy
from fitgen.mixed_precision.policy import set_global_policy
from fitgen.optimizers.loss_scale import LossScaleOptimizer

__all__ = ["Policy", "global_policy", "set_global_policy", "LossScaleOptimizer", "experimental"]
