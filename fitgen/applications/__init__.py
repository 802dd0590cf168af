"""Keras 2's pretrained networks (`keras.applications`), reading Keras's own weight files.

```python
from fitgen.applications import VGG16
from fitgen.applications.vgg16 import preprocess_input, decode_predictions

base = VGG16(weights="imagenet", include_top=False, input_shape=(224, 224, 3))
```

Every builder has Keras's signature and layer names, so `weights='imagenet'` loads Keras's published `.h5`
files (fetched once into the `models` cache; a copy in `~/.keras/models` is used as is) and `weights=PATH`
loads any file Keras wrote for the same architecture. Each family module has its `preprocess_input` and
`decode_predictions`; `resnet50` is Keras 2's module of that name.
"""
from fitgen.applications import (densenet, efficientnet, imagenet_utils, inception_resnet_v2, inception_v3,
                                 mobilenet, mobilenet_v2, nasnet, resnet, resnet50, resnet_v2, vgg16, vgg19,
                                 xception)
from fitgen.applications.densenet import DenseNet121, DenseNet169, DenseNet201
from fitgen.applications.efficientnet import (EfficientNetB0, EfficientNetB1, EfficientNetB2, EfficientNetB3,
                                              EfficientNetB4, EfficientNetB5, EfficientNetB6, EfficientNetB7)
from fitgen.applications.inception_resnet_v2 import InceptionResNetV2
from fitgen.applications.inception_v3 import InceptionV3
from fitgen.applications.mobilenet import MobileNet
from fitgen.applications.mobilenet_v2 import MobileNetV2
from fitgen.applications.nasnet import NASNetLarge, NASNetMobile
from fitgen.applications.resnet import ResNet50, ResNet101, ResNet152
from fitgen.applications.resnet_v2 import ResNet50V2, ResNet101V2, ResNet152V2
from fitgen.applications.vgg16 import VGG16
from fitgen.applications.vgg19 import VGG19
from fitgen.applications.xception import Xception

__all__ = ["DenseNet121", "DenseNet169", "DenseNet201", "EfficientNetB0", "EfficientNetB1", "EfficientNetB2",
           "EfficientNetB3", "EfficientNetB4", "EfficientNetB5", "EfficientNetB6", "EfficientNetB7",
           "InceptionResNetV2", "InceptionV3", "MobileNet", "MobileNetV2", "NASNetLarge", "NASNetMobile", "ResNet50",
           "ResNet101", "ResNet152", "ResNet50V2", "ResNet101V2", "ResNet152V2", "VGG16", "VGG19", "Xception",
           "densenet", "efficientnet", "imagenet_utils", "inception_resnet_v2", "inception_v3", "mobilenet",
           "mobilenet_v2", "nasnet", "resnet", "resnet50", "resnet_v2", "vgg16", "vgg19", "xception"]
