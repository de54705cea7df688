import { fileURLToPath } from 'node:url';
import { projectConfig } from '../../jest.preset.js';

export default projectConfig(fileURLToPath(new URL('.', import.meta.url)), 'onnx');
