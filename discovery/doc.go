// Package discovery owns the neutral batch format that discovery sources
// produce and an agent pushes to the server: CIs named by class and
// model.yaml attributes, and relationships between them, grouped into
// batches that may declare the scope they completely describe.
//
// A source never decides identity: it reports what it saw, with the
// attributes the class's identification rules need, and the server
// identifies and merges. A relationship end is either a batch-local Ref (a
// CI of the same batch) or an identity (a class and the identifying
// attributes known of the CI), which the server resolves the way it
// identifies an upserted CI, trying the class's rules strongest first. An
// identity end lets a batch point at a CI another batch or another source
// reports, such as the server an application instance RUNS_ON.
//
// Conventions every source follows:
//   - Attributes carry model.yaml names and types; an empty value is left
//     out (Batch.AddCI drops it) rather than sent, so a source never blanks
//     what another source knows.
//   - Dependent identification: a CI identified within its host, such as an
//     ApplicationInstance ([[name, host]]), carries the host attribute (the
//     host's fqdn) and a RUNS_ON to the host's server named by identity
//     (class "Server" and the attributes of ServerIdentity), so the link
//     holds whichever source, and whichever subclass, reported the server.
//   - Classes model.yaml lacks (model-proposal.yaml) are reported only when
//     a source's ProposedClasses option asks for them.
//
// The sources live in sub-packages, one per kind of input: ansible (facts
// written by `ansible -m setup --tree`), nmap (an `nmap -oX` report),
// kubernetes (manifests or a live cluster) and host (this machine, through
// gopsutil). None of them talks to the server.
package discovery
