import keras

from keras_prelu.analysis.model_layers import nested_layers


def test_nested_models_and_their_layers_in_graph_order():
    inner = keras.Sequential([keras.layers.Dense(3, name="a"), keras.layers.Dense(2, name="b")])
    inputs = keras.Input((4,))
    outer = keras.Model(inputs, keras.layers.Dense(1, name="c")(inner(inputs)))
    names = [layer.name for layer in nested_layers(outer)]
    assert names[names.index(inner.name) :] == [inner.name, "a", "b", "c"]
    assert outer.name not in names


def test_a_classifier_lists_its_backbone_layers_once_input_to_output():
    from keras_prelu.zoo import Model14

    model = Model14(input_shape=(32, 32, 3), num_classes=3, fc_units=(4, 4))
    names = [layer.name for layer in nested_layers(model)]
    assert len(names) == len(set(names))
    convs = [name for name in names if name.startswith(("conv", "fc"))]
    assert convs[0] == "conv1" and convs[-1] == "fc3"
    assert convs.index("conv2_1") < convs.index("conv3_1") < convs.index("fc1")
