// Package app is dialq's composition root: it builds the API process and
// the worker process from one config each, as cmd/api and cmd/worker run
// them. The end-to-end tests, the benchmarks and the phone simulator start
// the same constructors, so what they measure is what ships; no other
// package wires adapters together.
package app
