// Jest setup file of every project: `auto` backend selection would take a
// hardware WebGPU adapter on a machine with a GPU, where the many tests that
// read tensors synchronously (dataSync) cannot run. Tests of WebGPU ask for it
// by name, or unset this variable themselves.
process.env.TUMORCAST_WEBGPU_AUTO ??= '0';
