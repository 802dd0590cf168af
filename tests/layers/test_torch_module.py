"""TorchModule: any torch.nn.Module as a layer — weights, trainability, phase, shapes, config."""
import numpy as np
import pytest
import torch
from torch import nn

from fitgen.engine.input_layer import Input
from fitgen.layers.torch_module import TorchModule


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(2.0))

    def forward(self, a, b):
        return self.scale * a + b


def test_weights_named_by_state_dict_keys():
    module = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    layer = TorchModule(module, name="block")
    names = [w.name for w in layer.weights]
    assert names[:4] == ["block/0.weight:0", "block/0.bias:0", "block/1.weight:0", "block/1.bias:0"]
    assert {w.weight_name for w in layer.non_trainable_weights} == {"1.running_mean", "1.running_var",
                                                                    "1.num_batches_tracked"}
    assert layer.count_params() == 4 * 3 + 3 + 3 + 3 + 3 + 3 + 1
    values = [w + 1 for w in layer.get_weights()]
    layer.set_weights(values)
    np.testing.assert_array_equal(module[0].weight.detach().numpy(), values[0])


def test_forward_shapes_and_symbolic_call():
    layer = TorchModule(nn.Linear(5, 2))
    assert layer(torch.randn(3, 5)).shape == (3, 2)
    assert layer(Input((7, 5))).shape == (None, 7, 2)
    assert TorchModule(nn.Linear(5, 2), output_shape=(2,)).compute_output_shape((None, 5)) == (None, 2)
    two = TorchModule(TwoInputs())
    out = two([torch.ones(2, 3), torch.ones(2, 3)])
    np.testing.assert_allclose(out.detach().numpy(), 3.0)
    assert two([Input((3,)), Input((3,))]).shape == (None, 3)


def test_trainable_flags_follow_requires_grad_and_layer():
    module = nn.Linear(3, 2)
    module.bias.requires_grad_(False)
    layer = TorchModule(module)
    assert [w.weight_name for w in layer.trainable_weights] == ["weight"]
    layer.trainable = False
    assert layer.trainable_weights == [] and not module.weight.requires_grad
    layer.trainable = True
    assert module.weight.requires_grad


def test_phase_follows_layer_and_training_argument():
    layer = TorchModule(nn.Dropout(0.5))
    x = torch.ones(100, 100)
    layer.eval()
    assert torch.equal(layer(x), x)
    assert not torch.equal(layer(x, training=True), x)
    assert not layer.module.training
    layer.train()
    assert layer.module.training and not torch.equal(layer(x), x)


def test_gradients_reach_module_parameters():
    module = nn.Linear(3, 1)
    layer = TorchModule(module)
    layer(torch.randn(4, 3)).sum().backward()
    assert module.weight.grad is not None


def test_config_and_errors():
    layer = TorchModule(nn.Linear(3, 2), name="lin")
    config = layer.get_config()
    assert config["name"] == "lin" and config["module_class"] == "torch.nn.modules.linear.Linear"
    with pytest.raises(ValueError, match="custom_objects"):
        TorchModule.from_config(config)
    clone = TorchModule.from_config(config, custom_objects={"lin": nn.Linear(3, 2)})
    clone.set_weights(layer.get_weights())
    x = torch.randn(2, 3)
    np.testing.assert_allclose(clone(x).detach().numpy(), layer(x).detach().numpy())
    with pytest.raises(TypeError, match="torch.nn.Module"):
        TorchModule(lambda t: t)


def test_tied_parameters_are_one_weight():
    a = nn.Linear(3, 3, bias=False)
    module = nn.Sequential(a, a)
    assert len(TorchModule(module).weights) == 1


def test_inside_a_sequential_model():
    from fitgen.engine.sequential import Sequential
    from fitgen.layers.core import Dense

    module = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Dropout(0.5))
    model = Sequential([TorchModule(module, input_shape=(4,)), Dense(1)])
    model.compile("sgd", "mse")
    before = module[0].weight.detach().clone()
    model.train_on_batch(np.random.rand(8, 4).astype("float32"), np.zeros((8, 1), "float32"))
    assert not torch.equal(before, module[0].weight.detach())
    assert int(module[1].num_batches_tracked) == 1
    x = np.ones((3, 4), "float32")
    np.testing.assert_array_equal(model.predict(x), model.predict(x))  # inference: dropout off, BN frozen
    assert not module.training
    assert model.count_params() == (4 * 8 + 8) + 4 * 8 + 1 + (8 + 1)
