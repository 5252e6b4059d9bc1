// torch.nn as far as the tensor library goes: the functionals, spelled as PyTorch's torch.nn.functional (the
// layers are scatter's nn module layer, src/nn).
export * as functional from './functional.js';
