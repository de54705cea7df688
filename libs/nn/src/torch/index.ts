// PyTorch .pt/.pth state_dict reading (issue 6) is exported from here.
export {};
