#!/usr/bin/env node
/** CLI entry point (placeholder until its issue lands). */
console.log('usage: see README');
