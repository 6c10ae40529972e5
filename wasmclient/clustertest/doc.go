// Package clustertest holds the integration tests of wasmclient and `potok bench fanout` against
// an in-process Potok cluster (testkit/cluster: embedded NATS, signal, mediad on loopback). They
// live apart so that the client's own tests do not depend on the server tiers compiling.
package clustertest
