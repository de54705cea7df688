// PyTorch .pt/.pth state_dict reading.
export { TorchFileError } from './errors.js';
export type { TorchDtype, TorchTensorData } from './dtypes.js';
export { TorchTensor, readTorchFile, readTorchStateDict } from './read.js';
export type { TorchKey, TorchReadOptions, TorchStateDict, TorchStateDictOptions, TorchValue } from './read.js';
export { loadTorchFile, loadTorchStateDict } from './load.js';
export { PickleOpaque } from './pickle.js';
