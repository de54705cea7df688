// Jest global setup: lets the webgpu tests find a WebGPU adapter on machines
// without a GPU. Chromium ships SwiftShader, a Vulkan driver that runs on the
// CPU; when nothing else chose a Vulkan driver, point the Vulkan loader at it.
// Set here, in Jest's main process, because the loader reads the real
// environment (a test file only sees a copy of process.env) and the test
// workers inherit it. `auto` backend selection never takes a software adapter,
// so other tests are unaffected.
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export default function webgpuEnv() {
  if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && existsSync(SWIFTSHADER_ICD)) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  }
  // auto never takes WebGPU in tests, nor in the CLIs they spawn (see webgpu-auto-off.cjs).
  process.env.TUMORCAST_WEBGPU_AUTO ??= '0';
  // The Vulkan loader complains on stderr without it.
  process.env.XDG_RUNTIME_DIR ??= tmpdir();
}
