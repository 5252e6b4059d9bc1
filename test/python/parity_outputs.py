"""Writes a parity script's outputs: tensors to a safetensors file, except 0-d ones (such as batch norm's
num_batches_tracked), which safetensors_io.save cannot write (viewing a 0-d tensor as bytes fails); those
are printed on stdout as JSON {name: value}, which the tests read back."""
import json

from safetensors_io import save


def save_outputs(out, path):
    save({name: tensor for name, tensor in out.items() if tensor.dim() > 0}, path)
    print(json.dumps({name: tensor.item() for name, tensor in out.items() if tensor.dim() == 0}))
