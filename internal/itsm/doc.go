// Package itsm holds the IT service management records that hang on the
// configuration graph (incidents, problems, changes with CAB approval;
// knowledge articles; requests and assets next), their workflows, service levels,
// the questions that cross them and the graph (which change broke this
// incident, what is open around a CI), alerts from monitoring, and the
// events that webhooks send, among them SLA breaches, which a periodic
// sweep finds (Service.SweepBreaches) since no write makes them.
//
// A record is a node of its own kind (the model declares the kind, its
// attributes and its identity: the record's number), linked to CIs and
// people by edges that impact analysis reads but never propagates along
// (AFFECTS, REPORTED_BY, ASSIGNED_TO, ASSIGNED_TO_GROUP). What a record may
// do next is a Workflow: a table of transitions, each an action from some
// states to one state with named guards. A transition runs as one write
// of cmdb.Service.WriteNode, whose decision function applies the
// transition to the record as stored and locked in the write transaction,
// so two people acting on one incident at once cannot both move it from
// the same state: the second sees the first's state and is refused, or
// fails on the version it expected.
//
// States keep ITIL names in the stored state attribute (new, in_progress,
// on_hold, resolved, closed, canceled) and map one to one onto
// ServiceNow's stored codes (State.Code), for the ServiceNow-compatible API
// laid over them.
//
// Knowledge articles (knowledge.go) are records too: a draft is reviewed
// and published, and each publish also writes the published text as a
// node of kind knowledge_version (VERSION_OF the article), so that older
// versions stay readable however the article changes (ADR 22). Articles
// are searched through cmdb.Service.SearchNodes, the same ranking and
// highlighting on both backends.
//
// Layering: the GraphQL resolvers call this package's Service, which calls
// cmdb.Service (validation, permissions, the write) and the store's
// sequences (record numbers). Nothing here knows a backend.
package itsm
