"""The layers of a model in the order of its graph, nested models included."""

__all__ = ["nested_layers"]


def nested_layers(model):
    """Every layer of `model`, input to output, each once, without `model` itself.

    A nested model is listed, then its own layers (`model.layers`, recursively).
    Models that share one graph with a sub-model they track (a keras-hub task and
    its backbone) list each layer once, where the graph reaches it.
    """
    found = []
    seen = set()

    def visit(parent):
        for layer in parent.layers:
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            found.append(layer)
            if hasattr(layer, "layers"):
                visit(layer)

    visit(model)
    return found
