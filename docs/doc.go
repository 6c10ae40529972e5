// Package docs holds Potok's protocol reference, docs/protocol.md, and the test that keeps every
// section citation in the repository pointing at a section that exists there. It has no code.
package docs
