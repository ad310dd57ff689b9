package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/itsm"
	"github.com/skein-cmdb/skein/internal/store"
)

// The people of the estate who act in the demo's records (see estate.yaml).
const (
	// ChangeManager chairs the CAB: she approves changes and schedules one
	// past a conflict.
	ChangeManager = "ahoffmann"
	// PaymentsEngineer is in the CAB and in SG-Payments, and works the
	// payments incident.
	PaymentsEngineer = "dokafor"
	// DatabaseAdministrator is in the CAB and analyses the known error.
	DatabaseAdministrator = "mrossi"
	// ServiceDeskAnalyst opens the incidents callers report.
	ServiceDeskAnalyst = "jkowalski"
	// NetworkEngineer works the firewall incident.
	NetworkEngineer = "tnguyen"
	// CABGroup approves normal changes (itsm.cab_group's default);
	// PaymentsGroup supports the payments CIs.
	CABGroup      = "CAB"
	PaymentsGroup = "SG-Payments"
)

// The records SeedRecords plants, by number, as they are numbered in a
// store that held no record before.
const (
	// CulpritChange is a normal change on paydb, approved by the CAB and
	// implemented just before SuspectIncident was opened.
	CulpritChange = "CHG0010001"
	// SuspectIncident is open on payments-gateway, which depends on paydb:
	// its suspectChanges rank CulpritChange first. It is in progress,
	// assigned to PaymentsEngineer and PaymentsGroup.
	SuspectIncident = "INC0010001"
	// KnownError is a problem in root cause analysis, a known error with
	// its root cause and workaround, on ReplicaClusterExample; the
	// incidents StaleCatalogIncident and StaleExtractIncident are linked to
	// it.
	KnownError           = "PRB0010001"
	StaleCatalogIncident = "INC0010002"
	StaleExtractIncident = "INC0010003"
	// OnHoldIncident is open on FirewallExample, on hold awaiting the
	// vendor.
	OnHoldIncident = "INC0010004"
	// PatchChange is a standard change on DatabasePrimaryExample,
	// scheduled; UpgradeChange a normal change on the same CI whose
	// window overlaps it, approved and scheduled past the conflict by
	// ChangeManager with a reason. Each lists the other in its conflicts.
	PatchChange   = "CHG0010002"
	UpgradeChange = "CHG0010003"
	// Requests in flight: WaitingRequest, a phone and VPN access for the
	// network engineer, the phone waiting for the change manager's
	// approval (every demo person reports to her) and VPN access being
	// fulfilled; LaptopRequest, a laptop for the DBA, approved, a laptop
	// allocated from stock, its task being worked; PhoneRequest, a phone
	// for the payments engineer, approved, a phone allocated.
	WaitingRequest = "REQ0010001"
	LaptopRequest  = "REQ0010002"
	PhoneRequest   = "REQ0010003"
)

// Records says what SeedRecords did.
type Records struct {
	// Incidents, Problems and Changes are the numbers of the records
	// opened, in order.
	Incidents, Problems, Changes []string
	// Assets is how many assets were recorded (the stock of the asset
	// models).
	Assets int
	// CatalogItems is how many service catalog items were added.
	CatalogItems int
	// Requests are the numbers of the requests submitted, in order.
	Requests []string
	// Articles are the numbers of the knowledge articles published.
	Articles []string
	// Skipped is true when the store held records already: nothing was
	// written.
	Skipped bool
}

// String is a one-line account, e.g. "4 incidents, 1 problem, 3 changes,
// 9 assets, 3 catalog items, 3 requests, 12 articles".
func (r Records) String() string {
	if r.Skipped {
		return "records already there, none added"
	}
	plural := func(n int, one, many string) string {
		if n == 1 {
			return fmt.Sprintf("%d %s", n, one)
		}
		return fmt.Sprintf("%d %s", n, many)
	}
	return plural(len(r.Incidents), "incident", "incidents") + ", " + plural(len(r.Problems), "problem", "problems") + ", " +
		plural(len(r.Changes), "change", "changes") + ", " + plural(r.Assets, "asset", "assets") + ", " +
		plural(r.CatalogItems, "catalog item", "catalog items") + ", " + plural(len(r.Requests), "request", "requests") + ", " +
		plural(len(r.Articles), "article", "articles")
}

// SeedRecords opens the demo's service management records on the estate
// (which Seed loaded: its CIs, people and groups) through desk, the way the
// service desk's people would, each write under the actor of the person
// who does it (source "demo"), with the process's rights:
//
//   - CulpritChange tightens the connection limit of paydb: assessed,
//     approved by every member of the CAB, scheduled and implemented now;
//     then SuspectIncident, card payments timing out on payments-gateway,
//     is opened, started and assigned, so that its suspectChanges name
//     CulpritChange first;
//   - KnownError, replica lag of the shop's read replicas during the
//     nightly import, with StaleCatalogIncident and StaleExtractIncident
//     linked to it;
//   - OnHoldIncident, packet loss through the FRA1 firewall, on hold
//     awaiting the vendor;
//   - PatchChange and UpgradeChange on the shop's primary database, in
//     overlapping windows two days from now: both scheduled, the second
//     past the conflict with the change manager's reason;
//   - WaitingRequest, LaptopRequest and PhoneRequest from the service
//     catalog, in flight (every person but the change manager reports to
//     her, and she approves);
//   - a dozen published knowledge articles (demoArticles) about the
//     estate's CIs, one documenting KnownError and one answering
//     SuspectIncident.
//
// now places the change windows. A store that holds any incident, problem
// or change is left alone (Records.Skipped): the numbers above are those of
// an empty store, and the demo never adds its story twice.
func SeedRecords(ctx context.Context, desk *itsm.Service, svc *cmdb.Service, now time.Time) (Records, error) {
	ctx = auth.AsProcess(ctx)
	for _, kind := range []string{itsm.KindIncident, itsm.KindChange, itsm.KindProblem} {
		page, err := svc.ListNodes(ctx, kind, cmdb.Filter{}, store.PageRequest{First: 1})
		if err != nil {
			return Records{}, fmt.Errorf("demo records: check for %ss: %w", kind, err)
		}
		if page.Total > 0 {
			return Records{Skipped: true}, nil
		}
	}
	s := &seeder{ctx: ctx, desk: desk, svc: svc}
	s.plant(now)
	if s.err != nil {
		return s.out, fmt.Errorf("demo records: %w", s.err)
	}
	return s.out, nil
}

// number is a record's number, for errors.
func number(n store.Node) string {
	s, _ := n.Attributes["number"].(string)
	return s
}

// fail keeps err, if any, as the first error, saying what failed.
func (s *seeder) fail(err error, format string, args ...any) {
	if err != nil && s.err == nil {
		s.err = fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), err)
	}
}

// seeder writes the demo's records, keeping the first error (every step
// after it does nothing).
type seeder struct {
	ctx  context.Context
	desk *itsm.Service
	svc  *cmdb.Service
	out  Records
	err  error
}

// as is the actor of the person with user name user.
func as(user string) store.Actor { return store.Actor{Name: user, Source: "demo"} }

// plant writes the story, in order.
func (s *seeder) plant(now time.Time) {
	paydb, gateway := s.ci("paydb"), s.ci(ApplicationExample)
	replicas, catalog, pipelines := s.ci(ReplicaClusterExample), s.ci("shop-catalog"), s.ci("data-pipelines")
	firewall, primary := s.ci(FirewallExample), s.ci(DatabasePrimaryExample)
	manager, engineer, dba, analyst, neteng := s.person(ChangeManager), s.person(PaymentsEngineer), s.person(DatabaseAdministrator),
		s.person(ServiceDeskAnalyst), s.person(NetworkEngineer)
	payments := s.group(PaymentsGroup)
	if s.err != nil {
		return
	}

	// A change on paydb goes in; payments time out soon after.
	now = now.UTC().Truncate(time.Minute)
	culprit := s.change(as(engineer.user), itsm.RecordInput{
		Attributes: map[string]any{
			"short_description":   "Lower the connection limit of the payments database",
			"description":         "max_connections of pg-pay-01 from 400 to 200, as the PCI review asked: fewer idle sessions holding card data.",
			"type":                itsm.ChangeNormal,
			"category":            "database",
			"planned_start_at":    now.Add(-30 * time.Minute),
			"planned_end_at":      now.Add(90 * time.Minute),
			"implementation_plan": "ALTER SYSTEM SET max_connections = 200; rolling restart of pg-pay-01 in the low-traffic window.",
			"backout_plan":        "ALTER SYSTEM RESET max_connections; restart pg-pay-01.",
		},
		Links: itsm.Links{Caller: &engineer.id, AssignedTo: &dba.id, AffectedCIs: &[]store.ID{paydb}},
	})
	s.approve(culprit, manager, engineer, dba)
	s.actOnChange(as(manager.user), culprit, itsm.ActionSchedule, nil)
	s.actOnChange(as(dba.user), culprit, itsm.ActionImplement, nil)

	suspect := s.incident(as(analyst.user), itsm.RecordInput{
		Attributes: map[string]any{
			"short_description": "Card payments time out at checkout",
			"description":       "Since this morning about one card payment in five fails after 30 s; the gateway logs 'remaining connection slots are reserved'.",
			"impact":            int64(2), "urgency": int64(1), "category": "software",
		},
		Links: itsm.Links{Caller: &analyst.id, AssignedTo: &engineer.id, AssignmentGroup: &payments.id, AffectedCIs: &[]store.ID{gateway}},
	})
	s.actOnIncident(as(engineer.user), suspect, itsm.ActionStart, nil)

	// A known error behind two incidents of the shop's reads.
	problem := s.problem(as(dba.user), itsm.RecordInput{
		Attributes: map[string]any{
			"short_description": "Read replicas of the shop database lag during the nightly inventory import",
			"description":       "Every night between 02:00 and 03:00 the replicas fall up to 40 minutes behind pg-shop-01.",
			"impact":            int64(2), "urgency": int64(2), "category": "database",
		},
		Links: itsm.Links{AssignedTo: &dba.id, AffectedCIs: &[]store.ID{replicas}},
	})
	for _, in := range []itsm.RecordInput{
		{Attributes: map[string]any{
			"short_description": "Product pages show yesterday's stock levels in the morning",
			"impact":            int64(2), "urgency": int64(3), "category": "software",
		}, Links: itsm.Links{Caller: &analyst.id, AffectedCIs: &[]store.ID{catalog}}},
		{Attributes: map[string]any{
			"short_description": "The nightly sales extract misses the last hour of orders",
			"impact":            int64(3), "urgency": int64(3), "category": "software",
		}, Links: itsm.Links{Caller: &analyst.id, AffectedCIs: &[]store.ID{pipelines}}},
	} {
		inc := s.incident(as(analyst.user), in)
		if s.err == nil {
			s.fail(s.desk.LinkIncidentToProblem(s.ctx, as(dba.user), inc.ID, problem.ID), "link %s to %s", number(inc), number(problem))
		}
	}
	s.actOnProblem(as(dba.user), problem, itsm.ActionAssessProblem)
	s.actOnProblem(as(dba.user), problem, itsm.ActionAnalyze)
	if s.err == nil {
		_, err := s.desk.UpdateProblem(s.ctx, as(dba.user), problem.ID, 0, itsm.RecordInput{Attributes: map[string]any{
			"root_cause":  "inventory-sync writes the whole night's stock update in one transaction; the replicas replay it only once it commits.",
			"known_error": true,
			"workaround":  "Until 03:30, read stock levels from pg-shop-01 (shop-catalog: READ_FROM_PRIMARY=true); rerun late extracts after 04:00.",
		}})
		s.fail(err, "make %s a known error", number(problem))
	}

	// A firewall incident waits for the vendor.
	onHold := s.incident(as(analyst.user), itsm.RecordInput{
		Attributes: map[string]any{
			"short_description": "Intermittent packet loss through the FRA1 firewall",
			"description":       "Monitoring sees 1-2 % loss on the firewall's uplink at peak hours; no service down so far.",
			"impact":            int64(2), "urgency": int64(2), "category": "network",
		},
		Links: itsm.Links{Caller: &analyst.id, AssignedTo: &neteng.id, AffectedCIs: &[]store.ID{firewall}},
	})
	s.actOnIncident(as(neteng.user), onHold, itsm.ActionStart, nil)
	s.actOnIncident(as(neteng.user), onHold, itsm.ActionHold, map[string]any{"on_hold_reason": "awaiting_vendor"})

	// Two changes on the shop's primary database in one evening.
	day := now.Truncate(24 * time.Hour).Add(2 * 24 * time.Hour)
	patching := s.template(as(manager.user), map[string]any{
		"name":                PatchingTemplate,
		"short_description":   "Monthly OS patches of a Linux server",
		"category":            "os",
		"implementation_plan": "Drain, apply the month's vendor patches, reboot, check the services, undrain.",
		"backout_plan":        "Boot the previous kernel; restore the pre-patch snapshot.",
		"test_plan":           "Service health checks green for 15 minutes.",
	})
	patch := s.change(as(dba.user), itsm.RecordInput{
		Attributes: map[string]any{
			"short_description": "Monthly OS patches of the shop database server",
			"planned_start_at":  day.Add(20 * time.Hour),
			"planned_end_at":    day.Add(22 * time.Hour),
		},
		Links:    itsm.Links{Caller: &dba.id, AssignedTo: &dba.id, AffectedCIs: &[]store.ID{primary}},
		Template: patching.ID,
	})
	s.actOnChange(as(dba.user), patch, itsm.ActionSchedule, nil)
	upgrade := s.change(as(dba.user), itsm.RecordInput{
		Attributes: map[string]any{
			"short_description":   "Upgrade the shop database to PostgreSQL 16.4",
			"type":                itsm.ChangeNormal,
			"category":            "database",
			"planned_start_at":    day.Add(21 * time.Hour),
			"planned_end_at":      day.Add(23 * time.Hour),
			"implementation_plan": "pg_upgrade --link on pg-shop-01 after a switchover test on pg-shop-02.",
			"backout_plan":        "Fail over to pg-shop-02 (still on 16.3) and rebuild pg-shop-01.",
		},
		Links: itsm.Links{Caller: &dba.id, AssignedTo: &dba.id, AffectedCIs: &[]store.ID{primary}},
	})
	s.approve(upgrade, manager, engineer, dba)
	s.actOnChange(as(manager.user), upgrade, itsm.ActionSchedule, map[string]any{
		"conflict_override_reason": "Both need the same restart: the patches go first and the upgrade follows in the same outage, agreed with the DBAs.",
	})

	// Stock for the new hires: phones and laptops in the store room,
	// above their reorder thresholds, and one laptop with the analyst.
	for _, m := range []struct {
		name, manufacturer, category, prefix string
		threshold, stock                     int64
	}{
		{PhoneModel, "Google", "phone", "PHN", 2, 4},
		{LaptopModel, "Dell", "laptop", "LAP", 2, 4},
	} {
		model := s.assetModel(as(manager.user), map[string]any{"name": m.name, "manufacturer": m.manufacturer, "category": m.category, "reorder_threshold": m.threshold})
		for i := range m.stock {
			s.asset(as(analyst.user), itsm.AssetInput{Model: model.ID, Attributes: map[string]any{
				"asset_tag": fmt.Sprintf("%s-%04d", m.prefix, 101+i), "serial_number": fmt.Sprintf("DEMO-%s-%04d", m.prefix, 101+i),
				"location": "FRA1 store room", "purchase_date": now.AddDate(0, -2, 0), "warranty_end": now.AddDate(2, 10, 0),
			}})
		}
	}
	laptop := s.asset(as(analyst.user), itsm.AssetInput{Model: s.assetModelNamed(LaptopModel), Attributes: map[string]any{
		"asset_tag": "LAP-0090", "serial_number": "DEMO-LAP-0090", "location": "Frankfurt", "purchase_date": now.AddDate(-2, -11, 0),
		"warranty_end": now.AddDate(0, 0, 20),
	}})
	if s.err == nil {
		_, err := s.desk.ActOnAsset(s.ctx, as(analyst.user), laptop.ID, 0, itsm.ActionAssign, nil, analyst.id)
		s.fail(err, "assign laptop LAP-0090")
	}

	// The service catalog the new hires order from.
	workplace := s.group(WorkplaceGroup).id
	for _, item := range []struct {
		attrs map[string]any
		model string
		vars  []itsm.Variable
	}{
		{map[string]any{"name": "Standard laptop", "category": "Hardware", "approval": itsm.ApprovalManager,
			"short_description": "A laptop for office work, with a docking station on request."}, LaptopModel,
			[]itsm.Variable{{Name: "screen", Label: "Screen size", Type: "choice", Choices: []string{"14-inch", "16-inch"}, Required: true},
				{Name: "docking", Label: "Docking station", Type: "bool"}, {Name: "needed_by", Label: "Needed by", Type: "date"}}},
		{map[string]any{"name": "Mobile phone", "category": "Hardware", "approval": itsm.ApprovalManager,
			"short_description": "A company phone with a business number."}, PhoneModel,
			[]itsm.Variable{{Name: "port_number", Label: "Port my existing number", Type: "bool"}}},
		{map[string]any{"name": "VPN access", "category": "Access", "approval": itsm.ApprovalNone,
			"short_description": "Remote access to the company network."}, "",
			[]itsm.Variable{{Name: "reason", Label: "What you need it for", Type: "text", Required: true, MaxLength: 500}}},
	} {
		if s.err != nil {
			break
		}
		item.attrs["variables"] = itsm.EncodeVariables(item.vars)
		links := itsm.CatalogLinks{FulfillmentGroup: &workplace}
		if item.model != "" {
			m := s.assetModelNamed(item.model)
			links.AssetModel = &m
		}
		_, err := s.desk.WriteCatalogItem(s.ctx, as("skein-demo"), "", 0, item.attrs, links) // admins keep the catalog
		s.fail(err, "add %v to the service catalog", item.attrs["name"])
		if err == nil {
			s.out.CatalogItems++
		}
	}
	// Requests in flight: everyone reports to the change manager, who
	// approves the hardware; the analyst submits for the new arrivals.
	for _, p := range []who{engineer, dba, analyst, neteng} {
		if s.err == nil {
			s.fail(s.desk.SetPersonManager(s.ctx, as("skein-demo"), p.id, manager.id), "record %s's manager", p.user)
		}
	}
	s.request(as(analyst.user), neteng, map[string]any{"short_description": "Phone and VPN for on-call"},
		itsm.ItemRequest{CatalogItem: s.catalogItem("Mobile phone"), Answers: map[string]any{"port_number": true}},
		itsm.ItemRequest{CatalogItem: s.catalogItem("VPN access"), Answers: map[string]any{"reason": "On-call for the FRA1 network from next month."}})
	laptopReq := s.request(as(analyst.user), dba, nil,
		itsm.ItemRequest{CatalogItem: s.catalogItem("Standard laptop"), Answers: map[string]any{"screen": "16-inch", "docking": true}})
	phoneReq := s.request(as(analyst.user), engineer, nil, itsm.ItemRequest{CatalogItem: s.catalogItem("Mobile phone")})
	for _, r := range []store.Node{laptopReq, phoneReq} {
		for _, item := range s.items(r) {
			if s.err == nil {
				_, err := s.desk.DecideRequestedItem(s.ctx, as(manager.user), item.ID, 0, true, "Approved for the role.")
				s.fail(err, "approve %s", number(item))
			}
		}
	}
	for _, item := range s.items(laptopReq) {
		page, err := s.desk.TasksOf(s.ctx, itsm.KindCatalogTask, item.ID, false, store.PageRequest{First: 10})
		s.fail(err, "read the tasks of %s", number(item))
		for _, t := range page.Items {
			if s.err == nil {
				_, err := s.desk.ActOnTask(s.ctx, as(analyst.user), itsm.KindCatalogTask, t.ID, 0, itsm.ActionStartTask, nil)
				s.fail(err, "start %s", number(t))
			}
		}
	}
	// The knowledge base: written by the engineers, published.
	for _, a := range demoArticles {
		ci := s.ci(a.ci)
		l := itsm.ArticleLinks{CIs: &[]store.ID{ci}}
		switch a.links {
		case "problem":
			l.Problems = &[]store.ID{problem.ID}
		case "incident":
			l.Incidents = &[]store.ID{suspect.ID}
		}
		s.article(as(dba.user), as(manager.user), map[string]any{"short_description": a.title, "category": a.category,
			"keywords": a.keywords, "body": a.body}, l)
	}
}

// demoArticles are the demo's knowledge articles: the CI each is about,
// and "problem" or "incident" for the one that documents KnownError or
// answers SuspectIncident.
var demoArticles = []struct {
	title, category, body, ci, links string
	keywords                         []string
}{
	{"Card payments time out after a database change", "payments", "# Symptom\n\nCard payments time out; the gateway logs *remaining connection slots are reserved*.\n\n# Fix\n\nCheck `max_connections` of pg-pay-01 against the gateway's pool size; roll back the last change of the limit.", ApplicationExample, "incident", []string{"payments", "timeout", "connections"}},
	{"Replica lag during the nightly import", "database", "# Known error\n\nThe nightly import saturates the replicas' WAL replay; stock levels read from them are stale until it ends.\n\n# Workaround\n\nRead stock levels from the primary (`READ_FROM_PRIMARY=true`) until 03:30.", ReplicaClusterExample, "problem", []string{"replica", "lag", "import"}},
	{"Fail over the shop database", "database", "Promote pg-shop-02 with `patronictl failover`, check the application pools reconnect, then rebuild the old primary as a replica.", DatabasePrimaryExample, "", []string{"failover", "patroni", "postgresql"}},
	{"Packet loss through the FRA1 firewall", "network", "Compare the uplink counters of fw-fra1-01 with the switch; open a vendor case with the support bundle if the loss is on the firewall's side.", FirewallExample, "", []string{"firewall", "packet", "loss"}},
	{"Restart a payments gateway node", "payments", "Drain the node in vs-payments, restart the service, check the health endpoint, undrain. One node at a time.", VirtualMachineExample, "", []string{"restart", "drain", "gateway"}},
	{"Drain a Kubernetes node for maintenance", "platform", "`kubectl cordon` then `kubectl drain --ignore-daemonsets`; uncordon after the maintenance and check the pods spread again.", KubernetesNodeExample, "", []string{"kubernetes", "drain", "cordon"}},
	{"Move a virtual machine off a host", "virtualisation", "Put the host in maintenance mode; DRS moves its VMs. A VM pinned to the host needs a manual vMotion.", "esx-fra1-04", "", []string{"vmotion", "esx", "maintenance"}},
	{"Shop catalog shows stale stock", "shop", "Stale stock is usually replica lag: see the known error of the shop's replicas, and check the import job ran.", "shop-catalog", "", []string{"stock", "stale", "catalog"}},
	{"Rerun a late data extract", "data", "Rerun the extract from the data-pipelines scheduler after 04:00, once the nightly import has finished.", "data-pipelines", "", []string{"extract", "rerun", "pipeline"}},
	{"Load balancer marks every member down", "network", "Check the health monitor of vs-payments: a changed health path marks every member down although they serve.", LoadBalancerExample, "", []string{"health", "monitor", "pool"}},
	{"Restore a table of the shop database", "database", "Restore the table from the last base backup into a scratch database, then copy the rows back; never restore over the live database.", DatabaseExample, "", []string{"restore", "backup", "table"}},
	{"Add capacity to the production cluster", "virtualisation", "Add a host to vcl-fra1-prod, let DRS balance, and raise the cluster's admission control only after the host is healthy.", ComputeClusterExample, "", []string{"capacity", "cluster", "host"}},
}

// who is a person of the estate: node ID and user name.
type who struct {
	id   store.ID
	user string
}

// ci returns the ID of the CI named name.
func (s *seeder) ci(name string) store.ID {
	if s.err != nil {
		return ""
	}
	page, err := s.svc.ListCIs(s.ctx, cmdb.Filter{Name: name, CaseSensitive: true}, store.PageRequest{First: 1})
	switch {
	case err != nil:
		s.fail(err, "find CI %q", name)
	case len(page.Items) == 0:
		s.err = fmt.Errorf("no CI named %q: seed the estate first", name)
	default:
		return page.Items[0].ID
	}
	return ""
}

// node returns the node of kind whose attribute is value.
func (s *seeder) node(kind, attribute, value string) store.ID {
	if s.err != nil {
		return ""
	}
	page, err := s.svc.ListNodes(s.ctx, kind, cmdb.Filter{Attributes: map[string]any{attribute: value}}, store.PageRequest{First: 1})
	switch {
	case err != nil:
		s.fail(err, "find %s %q", kind, value)
	case len(page.Items) == 0:
		s.err = fmt.Errorf("no %s with %s %q: seed the estate first", kind, attribute, value)
	default:
		return page.Items[0].ID
	}
	return ""
}

// catalogItem returns the ID of the catalog item named name.
func (s *seeder) catalogItem(name string) store.ID {
	if s.err != nil {
		return ""
	}
	n, ok, err := s.desk.CatalogItemByName(s.ctx, name)
	s.fail(err, "find catalog item %s", name)
	if !ok && s.err == nil {
		s.err = fmt.Errorf("no catalog item %s", name)
	}
	return n.ID
}

// request submits a request for person, as actor.
func (s *seeder) request(actor store.Actor, person who, attrs map[string]any, items ...itsm.ItemRequest) store.Node {
	if s.err != nil {
		return store.Node{}
	}
	n, _, err := s.desk.SubmitRequest(s.ctx, actor, itsm.RequestInput{Attributes: attrs, RequestedFor: person.id, Items: items})
	s.fail(err, "submit a request for %s", person.user)
	if err == nil {
		s.out.Requests = append(s.out.Requests, number(n))
	}
	return n
}

// items returns the items of request r.
func (s *seeder) items(r store.Node) []store.Node {
	if s.err != nil {
		return nil
	}
	page, err := s.desk.ItemsOf(s.ctx, r.ID, store.PageRequest{First: itsm.MaxRequestItems})
	s.fail(err, "read the items of %s", number(r))
	return page.Items
}

func (s *seeder) person(user string) who {
	return who{id: s.node(cmdb.KindPerson, "user_name", user), user: user}
}

func (s *seeder) group(name string) who {
	return who{id: s.node(cmdb.KindGroup, "name", name), user: name}
}

// record keeps the number of a record opened (or the error).
func (s *seeder) record(list *[]string, n store.Node, err error, in itsm.RecordInput) store.Node {
	if err != nil {
		s.fail(err, "open %q", in.Attributes["short_description"])
		return n
	}
	*list = append(*list, number(n))
	return n
}

func (s *seeder) incident(actor store.Actor, in itsm.RecordInput) store.Node {
	if s.err != nil {
		return store.Node{}
	}
	n, err := s.desk.CreateIncident(s.ctx, actor, in)
	return s.record(&s.out.Incidents, n, err, in)
}

func (s *seeder) problem(actor store.Actor, in itsm.RecordInput) store.Node {
	if s.err != nil {
		return store.Node{}
	}
	n, err := s.desk.CreateProblem(s.ctx, actor, in)
	return s.record(&s.out.Problems, n, err, in)
}

// assetModel records an asset model.
func (s *seeder) assetModel(actor store.Actor, attrs map[string]any) store.Node {
	if s.err != nil {
		return store.Node{}
	}
	n, err := s.desk.CreateAssetModel(s.ctx, actor, attrs)
	s.fail(err, "record the asset model %v", attrs["name"])
	return n
}

// assetModelNamed is the ID of the asset model named name.
func (s *seeder) assetModelNamed(name string) store.ID {
	if s.err != nil {
		return ""
	}
	n, ok, err := s.desk.AssetModelByName(s.ctx, name)
	if err == nil && !ok {
		err = fmt.Errorf("no asset model %q", name)
	}
	s.fail(err, "find the asset model %s", name)
	return n.ID
}

// asset records an asset in stock.
func (s *seeder) asset(actor store.Actor, in itsm.AssetInput) store.Node {
	if s.err != nil {
		return store.Node{}
	}
	n, err := s.desk.CreateAsset(s.ctx, actor, in, true)
	s.fail(err, "record the asset %v", in.Attributes["asset_tag"])
	if err == nil {
		s.out.Assets++
	}
	return n
}

// template records a change template (the standard change catalog).
func (s *seeder) template(actor store.Actor, attrs map[string]any) store.Node {
	if s.err != nil {
		return store.Node{}
	}
	n, err := s.desk.CreateTemplate(s.ctx, actor, attrs)
	s.fail(err, "record the change template %v", attrs["name"])
	return n
}

// article writes a knowledge article as author, then submits it and
// publishes it as publisher.
func (s *seeder) article(author, publisher store.Actor, attrs map[string]any, l itsm.ArticleLinks) {
	if s.err != nil {
		return
	}
	n, err := s.desk.CreateArticle(s.ctx, author, attrs, l)
	s.fail(err, "write the article %v", attrs["short_description"])
	for _, act := range []struct {
		who    store.Actor
		action string
	}{{author, itsm.ActionSubmit}, {publisher, itsm.ActionPublish}} {
		if s.err != nil {
			return
		}
		_, err := s.desk.ActOnArticle(s.ctx, act.who, n.ID, 0, act.action, nil)
		s.fail(err, "%s %s", act.action, number(n))
	}
	if s.err == nil {
		s.out.Articles = append(s.out.Articles, number(n))
	}
}

func (s *seeder) change(actor store.Actor, in itsm.RecordInput) store.Node {
	if s.err != nil {
		return store.Node{}
	}
	n, err := s.desk.CreateChange(s.ctx, actor, in)
	return s.record(&s.out.Changes, n, err, in)
}

func (s *seeder) actOnIncident(actor store.Actor, n store.Node, action string, input map[string]any) {
	if s.err == nil {
		_, err := s.desk.ActOnIncident(s.ctx, actor, n.ID, 0, action, input)
		s.fail(err, "%s %s", action, number(n))
	}
}

func (s *seeder) actOnProblem(actor store.Actor, n store.Node, action string) {
	if s.err == nil {
		_, err := s.desk.ActOnProblem(s.ctx, actor, n.ID, 0, action, nil)
		s.fail(err, "%s %s", action, number(n))
	}
}

func (s *seeder) actOnChange(actor store.Actor, n store.Node, action string, input map[string]any) {
	if s.err == nil {
		_, err := s.desk.ActOnChange(s.ctx, actor, n.ID, 0, action, input)
		s.fail(err, "%s %s", action, number(n))
	}
}

// approve assesses normal change n, sends it to the CAB and has each of
// approvers approve it under their own name. The approvers are the
// members of the estate's CAB group, which must be the service desk's CAB
// group (itsm.cab_group, CAB by default).
func (s *seeder) approve(n store.Node, approvers ...who) {
	if s.err != nil {
		return
	}
	s.actOnChange(as(ChangeManager), n, itsm.ActionAssess, nil)
	s.actOnChange(as(ChangeManager), n, itsm.ActionRequestApproval, nil)
	if s.err != nil {
		s.err = fmt.Errorf("%w (the demo's approvers are the members of its group %s: is itsm.cab_group another group?)", s.err, CABGroup)
		return
	}
	for _, p := range approvers {
		if s.err == nil {
			_, err := s.desk.DecideChange(s.ctx, as(p.user), n.ID, 0, true, "Approved at the CAB.")
			s.fail(err, "%s approves %s", p.user, number(n))
		}
	}
}
