// Network building blocks (issue 6) are exported from here.
export {};
