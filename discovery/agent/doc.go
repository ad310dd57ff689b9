// Package agent owns skein-agent, the discovery agent: it reads the
// agent's configuration (Config, LoadConfig), runs the configured
// discovery sources (Runner) and pushes what they report to a Skein server
// through POST /api/v1/batches (push.Pusher, which splits batches too large
// for one request and retries what a retry may cure). A source's scoped
// batches go in one discovery run (POST /api/v1/runs), completed only when
// every batch was taken, so that the server removes what the source no
// longer reports in those scopes after a complete pass, and never after a
// failed one (docs/DISCOVERY.md, "Scopes and runs").
//
// The sources themselves live in discovery's sub-packages; this package
// only builds them from the configuration, so that a source stays usable
// without an agent (in a test, or through an NDJSON file).
package agent
