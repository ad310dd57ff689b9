package embedded

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"math"
	"sync"

	"github.com/skein-cmdb/skein/internal/store"
)

// half is one half-edge of the adjacency index: the node at the other end
// and the interned relationship type.
type half struct {
	nbr int32
	typ uint32
}

// edge is one relationship of the adjacency index, by node slots.
type edge struct {
	src, dst int32
	typ      uint32
}

// csr is an immutable compressed-sparse-row adjacency over node slots
// 0..n-1, in both directions: out[outOff[u]:outOff[u+1]] are u's outgoing
// half-edges (nbr = target), in[inOff[u]:inOff[u+1]] its incoming ones (nbr
// = source).
type csr struct {
	n      int
	edges  int
	outOff []uint32
	out    []half
	inOff  []uint32
	in     []half
}

// buildCSR makes a csr over n node slots from edges (every endpoint < n).
func buildCSR(n int, edges []edge) *csr {
	c := &csr{
		n:      n,
		edges:  len(edges),
		outOff: make([]uint32, n+1),
		inOff:  make([]uint32, n+1),
		out:    make([]half, len(edges)),
		in:     make([]half, len(edges)),
	}
	for _, e := range edges {
		c.outOff[e.src+1]++
		c.inOff[e.dst+1]++
	}
	for i := 1; i <= n; i++ {
		c.outOff[i] += c.outOff[i-1]
		c.inOff[i] += c.inOff[i-1]
	}
	// Fill using the offsets as cursors, then shift them back.
	outPos := make([]uint32, n)
	inPos := make([]uint32, n)
	copy(outPos, c.outOff[:n])
	copy(inPos, c.inOff[:n])
	for _, e := range edges {
		c.out[outPos[e.src]] = half{nbr: e.dst, typ: e.typ}
		outPos[e.src]++
		c.in[inPos[e.dst]] = half{nbr: e.src, typ: e.typ}
		inPos[e.dst]++
	}
	return c
}

func (c *csr) outOf(u int32) []half {
	if int(u) >= c.n {
		return nil
	}
	return c.out[c.outOff[u]:c.outOff[u+1]]
}

func (c *csr) inOf(u int32) []half {
	if int(u) >= c.n {
		return nil
	}
	return c.in[c.inOff[u]:c.inOff[u+1]]
}

// defaultMinCompact is the delta size below which the index never
// compacts.
const defaultMinCompact = 1 << 14

// graph is the in-memory adjacency index. The writer goroutine is its only
// mutator: it reads the graph without locking and mutates it only while
// holding mu for writing. Readers hold mu for reading for the whole of a
// traversal, so they see one committed state.
type graph struct {
	mu sync.RWMutex

	base    *csr
	addOut  adds               // edges added since base, by source
	addIn   adds               // the same edges, by target
	removed map[edge]struct{}  // base edges deleted since base
	dirty   []uint64           // bit per node slot with delta entries
	deltaN  int                // added + removed edges in the delta
	nedges  int                // live edges
	uids    [][16]byte         // node uid by slot; zero = no node
	notCI   []uint64           // bit per slot holding a node of another kind than CI
	ids     idText             // the same, formatted: traversal results share these strings
	byUID   map[[16]byte]int32 // node slot by CI uid
	nodes   int                // live CIs
	purges  uint64             // nodes deleted from the index (GraphView.Purges)
	types   []string           // relationship type name by id (0 unused)
	typeID  map[string]uint32  // relationship type id by name
	visits  sync.Pool          // *visitSet

	// The node summary cache (summary.go).
	sums     []sumSlot            // by slot
	names    nameText             // the names sums refer to
	uncached []uint64             // bit per slot whose summary is read from the database
	kcs      []kindClass          // kind and class by id (0 unused)
	kcID     map[kindClass]uint32 // id by kind and class
	vals     []any                // summary value by id (0 unused)
	valID    map[any]uint32       // id by summary value

	minCompact  int // the writer compacts past max(minCompact, base edges/8)
	compactions int // how many times it did
}

func newGraph() *graph {
	return &graph{
		base:    buildCSR(0, nil),
		removed: map[edge]struct{}{},
		byUID:   map[[16]byte]int32{},
		types:   []string{""},
		typeID:  map[string]uint32{},
		kcs:     []kindClass{{}},
		kcID:    map[kindClass]uint32{},
		vals:    []any{nil},
		valID:   map[any]uint32{},

		minCompact: defaultMinCompact,
	}
}

// loadGraph builds the index from the database. The node summaries are
// read and decoded on a second connection while the nodes' uids and the
// edges are read: they touch other fields of the graph, and on two cores
// this hides most of their cost.
//
// Both size what they fill from the largest row ids, read once here:
// grown by appends, the slices and maps would leave about as much garbage
// as they hold, and the heap keeps the peak (a quarter more resident
// memory at 200,000 CIs).
func loadGraph(ctx context.Context, db *sql.DB) (*graph, error) {
	var maxNode, maxEdge int64
	if err := db.QueryRowContext(ctx, "SELECT (SELECT coalesce(max(id), 0) FROM cis), (SELECT coalesce(max(id), 0) FROM relationships)").Scan(&maxNode, &maxEdge); err != nil {
		return nil, err
	}
	if maxNode > math.MaxInt32 || maxEdge > math.MaxInt32 {
		return nil, fmt.Errorf("row ids %d, %d out of range", maxNode, maxEdge)
	}
	g := newGraph()
	sums := make(chan error, 1)
	go func() { sums <- g.loadSums(ctx, db, maxNode) }()
	err := g.loadShape(ctx, db, maxNode, maxEdge)
	if serr := <-sums; err == nil && serr != nil {
		err = fmt.Errorf("node summaries: %w", serr)
	}
	if err != nil {
		return nil, err
	}
	return g, nil
}

// loadSums reads every node's summary (summary.go); maxRow is the largest
// node row id.
func (g *graph) loadSums(ctx context.Context, db *sql.DB, maxRow int64) error {
	g.sums = make([]sumSlot, maxRow+1)
	rows, err := db.QueryContext(ctx, "SELECT id, kind, class, version, attrs FROM cis")
	if err != nil {
		return err
	}
	var (
		kind, attrs sql.RawBytes
		class       string
		id, version int64
	)
	for rows.Next() {
		if err := rows.Scan(&id, &kind, &class, &version, &attrs); err != nil {
			rows.Close()
			return err
		}
		if id <= 0 || id > maxRow {
			rows.Close()
			return fmt.Errorf("CI row %d out of range", id)
		}
		sum, err := sumOf(internKind(kind), class, version, attrs)
		if err != nil {
			// A row that does not decode is read from the database, which
			// says so when it is read: it does not stop the store opening.
			g.uncached = setBit(g.uncached, int32(id), true)
			continue
		}
		g.setSum(int32(id), sum)
	}
	return closeRows(rows)
}

// maxEdgePresize caps the edges loadShape reserves room for up front
// (64M edges, 768 MiB).
const maxEdgePresize = 1 << 26

// loadShape reads the relationship types, the nodes' slots and the edges;
// maxNode and maxEdge are the largest node and relationship row ids.
func (g *graph) loadShape(ctx context.Context, db *sql.DB, maxNode, maxEdge int64) error {
	rows, err := db.QueryContext(ctx, "SELECT id, name FROM rel_types")
	if err != nil {
		return err
	}
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			rows.Close()
			return err
		}
		if id <= 0 || id > math.MaxUint32 {
			rows.Close()
			return fmt.Errorf("relationship type id %d out of range", id)
		}
		g.setType(uint32(id), name)
	}
	if err := closeRows(rows); err != nil {
		return err
	}

	// The scanned values are declared once, outside the loops: Scan's
	// pointers make them escape, one allocation a row otherwise.
	g.uids = make([][16]byte, 0, maxNode+1)
	g.ids.grow(int(maxNode) + 1)
	g.byUID = make(map[[16]byte]int32, maxNode)

	rows, err = db.QueryContext(ctx, "SELECT id, uid, kind = 'ci' FROM cis")
	if err != nil {
		return err
	}
	var (
		id  int64
		uid string
		ci  bool
	)
	for rows.Next() {
		if err := rows.Scan(&id, &uid, &ci); err != nil {
			rows.Close()
			return err
		}
		u, ok := parseUID(uid)
		if id <= 0 || id > math.MaxInt32 || !ok {
			rows.Close()
			return fmt.Errorf("CI row %d has an invalid id or uid", id)
		}
		g.addNode(int32(id), u, ci)
	}
	if err := closeRows(rows); err != nil {
		return err
	}

	rows, err = db.QueryContext(ctx, "SELECT src, type, dst FROM relationships")
	if err != nil {
		return err
	}
	// Row ids only bound the count (deleted rows leave gaps): the
	// presize is capped so that a database with a stray huge id does not
	// make open reserve gigabytes; past the cap the slice grows.
	edges := make([]edge, 0, min(maxEdge, maxEdgePresize))
	var src, typ, dst int64
	for rows.Next() {
		if err := rows.Scan(&src, &typ, &dst); err != nil {
			rows.Close()
			return err
		}
		if src <= 0 || dst <= 0 || int(src) >= len(g.uids) || int(dst) >= len(g.uids) || typ <= 0 || int(typ) >= len(g.types) {
			rows.Close()
			return fmt.Errorf("relationship %d-%d-%d refers to an unknown CI or type", src, typ, dst)
		}
		edges = append(edges, edge{src: int32(src), dst: int32(dst), typ: uint32(typ)})
	}
	if err := closeRows(rows); err != nil {
		return err
	}
	g.base = buildCSR(len(g.uids), edges)
	g.nedges = len(edges)
	return nil
}

func closeRows(rows *sql.Rows) error {
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return err
}

// setType interns a relationship type under its database id.
func (g *graph) setType(id uint32, name string) {
	for int(id) >= len(g.types) {
		g.types = append(g.types, "")
	}
	g.types[id] = name
	g.typeID[name] = id
}

// addNode indexes the node uid at slot; ci says whether it is a CI, which
// traversals may walk (they walk CIs only: people and groups are reached
// by Edges, never through them).
func (g *graph) addNode(slot int32, uid [16]byte, ci bool) {
	if int(slot) >= len(g.uids) {
		if int(slot) >= cap(g.uids) {
			grown := make([][16]byte, len(g.uids), max(int(slot)+1, cap(g.uids)+cap(g.uids)/4+1024))
			copy(grown, g.uids)
			g.uids = grown
			g.ids.grow(cap(grown))
		}
		g.uids = g.uids[:slot+1] // slots past the old length are zero
	}
	if g.uids[slot] == ([16]byte{}) {
		g.nodes++
	}
	g.uids[slot] = uid
	g.ids.set(slot, uid)
	g.byUID[uid] = slot
	g.notCI = setBit(g.notCI, slot, !ci)
}

func (g *graph) delNode(slot int32) {
	if int(slot) >= len(g.uids) || g.uids[slot] == ([16]byte{}) {
		return
	}
	delete(g.byUID, g.uids[slot])
	g.notCI = setBit(g.notCI, slot, false)
	g.clearSum(slot)
	g.uids[slot] = [16]byte{}
	g.nodes--
	g.purges++
}

func (g *graph) markDirty(slot int32) { g.dirty = setBit(g.dirty, slot, true) }

func (g *graph) isDirty(slot int32) bool { return hasBit(g.dirty, slot) }

// has reports whether slot holds a node; the caller holds g.mu.
func (g *graph) has(slot int32) bool {
	return slot >= 0 && int(slot) < len(g.uids) && g.uids[slot] != ([16]byte{})
}

// id returns the ID of the node at slot, "" when there is none; the
// caller holds g.mu. The string stays valid, and unchanged, after the
// lock is released.
func (g *graph) id(slot int32) store.ID {
	if !g.has(slot) {
		return ""
	}
	return g.ids.at(slot)
}

// isCI reports whether slot holds a CI; the caller holds g.mu.
func (g *graph) isCI(slot int32) bool {
	return int(slot) < len(g.uids) && g.uids[slot] != ([16]byte{}) && !hasBit(g.notCI, slot)
}

// setBit sets (or clears) bit slot of bits, growing it to set.
func setBit(bits []uint64, slot int32, on bool) []uint64 {
	w := int(slot) >> 6
	if w >= len(bits) {
		if !on {
			return bits
		}
		grown := make([]uint64, max(w+1, len(bits)*5/4))
		copy(grown, bits)
		bits = grown
	}
	if on {
		bits[w] |= 1 << (uint(slot) & 63)
	} else {
		bits[w] &^= 1 << (uint(slot) & 63)
	}
	return bits
}

func hasBit(bits []uint64, slot int32) bool {
	w := int(slot) >> 6
	return w < len(bits) && bits[w]&(1<<(uint(slot)&63)) != 0
}

func (g *graph) addEdge(e edge) {
	g.nedges++
	if _, ok := g.removed[e]; ok {
		delete(g.removed, e) // a deleted base edge comes back
		g.deltaN--
		return
	}
	g.addOut.add(e.src, half{nbr: e.dst, typ: e.typ})
	g.addIn.add(e.dst, half{nbr: e.src, typ: e.typ})
	g.deltaN++
	g.markDirty(e.src)
	g.markDirty(e.dst)
}

func (g *graph) delEdge(e edge) {
	g.nedges--
	if g.addOut.remove(e.src, half{nbr: e.dst, typ: e.typ}) {
		g.addIn.remove(e.dst, half{nbr: e.src, typ: e.typ})
		g.deltaN--
		return
	}
	g.removed[e] = struct{}{}
	g.deltaN++
	g.markDirty(e.src)
	g.markDirty(e.dst)
}

// eachEdge calls fn for each live edge of slot u, outgoing (out) or
// incoming, with the neighbour's slot and the edge's type. The caller
// holds mu for reading.
func (g *graph) eachEdge(u int32, out bool, fn func(nbr int32, typ uint32)) {
	base := g.base.inOf(u)
	if out {
		base = g.base.outOf(u)
	}
	// Only a node marked dirty has delta entries: the others cost no map
	// lookup (an analysis reads every node it reaches this way).
	dirty := g.isDirty(u)
	var added []half
	if dirty {
		added = g.addIn.of(u)
		if out {
			added = g.addOut.of(u)
		}
	}
	check := dirty && len(g.removed) > 0
	for _, h := range base {
		if check {
			e := edge{src: h.nbr, dst: u, typ: h.typ}
			if out {
				e = edge{src: u, dst: h.nbr, typ: h.typ}
			}
			if _, gone := g.removed[e]; gone {
				continue
			}
		}
		fn(h.nbr, h.typ)
	}
	for _, h := range added {
		fn(h.nbr, h.typ)
	}
}

// adds holds the edges added to the index since its base, a list by
// node slot: at[u] is 1 + the index of u's list in lists, 0 for none. A
// slice indexed by slot, not a map, so that reading a node's added edges
// costs no hashing (an analysis from a hub reads those of tens of
// thousands of nodes; a map lookup each took a tenth of its time).
type adds struct {
	at    []int32
	lists [][]half
}

// of returns the edges added at u.
func (a *adds) of(u int32) []half {
	if int(u) < len(a.at) {
		if i := a.at[u]; i != 0 {
			return a.lists[i-1]
		}
	}
	return nil
}

// add adds h at u.
func (a *adds) add(u int32, h half) {
	if int(u) >= len(a.at) {
		n := max(int(u)+1, len(a.at)*5/4)
		a.at = append(a.at, make([]int32, n-len(a.at))...)
	}
	if a.at[u] == 0 {
		a.lists = append(a.lists, nil)
		a.at[u] = int32(len(a.lists))
	}
	a.lists[a.at[u]-1] = append(a.lists[a.at[u]-1], h)
}

// remove removes h from u's added edges, reporting whether it was there.
func (a *adds) remove(u int32, h half) bool {
	hs := a.of(u)
	for i, x := range hs {
		if x == h {
			last := len(hs) - 1
			hs[i] = hs[last]
			a.lists[a.at[u]-1] = hs[:last]
			return true
		}
	}
	return false
}

// patch is the change a committed write call makes to the index.
type patch struct {
	types    []typeDef
	addNodes []nodeDef
	sums     []sumDef // summaries of created and rewritten nodes, in write order
	delNodes []int32
	addEdges []edge
	delEdges []edge
}

type typeDef struct {
	id   uint32
	name string
}

type nodeDef struct {
	slot int32
	uid  [16]byte
	ci   bool
}

type sumDef struct {
	slot int32
	sum  nodeSum
}

// applyLocked applies a committed call's patch; the caller holds mu.
func (g *graph) applyLocked(p *patch) {
	for _, t := range p.types {
		g.setType(t.id, t.name)
	}
	for _, n := range p.addNodes {
		g.addNode(n.slot, n.uid, n.ci)
	}
	for _, d := range p.sums {
		g.setSum(d.slot, d.sum)
	}
	for _, e := range p.delEdges {
		g.delEdge(e)
	}
	for _, e := range p.addEdges {
		g.addEdge(e)
	}
	for _, s := range p.delNodes {
		g.delNode(s)
	}
}

// needsCompaction reports whether the delta has outgrown an eighth of the
// base.
func (g *graph) needsCompaction() bool {
	return g.deltaN > max(g.minCompact, g.base.edges/8)
}

// compact folds the delta into a new base. Only the writer goroutine calls
// it: it builds the new base without the lock (nothing else mutates the
// graph) and swaps it in under the lock.
func (g *graph) compact() {
	n := len(g.uids)
	edges := make([]edge, 0, g.nedges)
	for u := int32(0); int(u) < n; u++ {
		dirty := g.isDirty(u)
		for _, h := range g.base.outOf(u) {
			if dirty {
				if _, gone := g.removed[edge{src: u, dst: h.nbr, typ: h.typ}]; gone {
					continue
				}
			}
			edges = append(edges, edge{src: u, dst: h.nbr, typ: h.typ})
		}
		if dirty {
			for _, h := range g.addOut.of(u) {
				edges = append(edges, edge{src: u, dst: h.nbr, typ: h.typ})
			}
		}
	}
	base := buildCSR(n, edges)
	g.mu.Lock()
	g.base = base
	g.addOut, g.addIn = adds{}, adds{}
	g.removed = map[edge]struct{}{}
	g.dirty = nil
	g.deltaN = 0
	g.compactions++
	g.mu.Unlock()
}

// visitSet marks visited node slots with an epoch, so that a pooled set is
// reused without clearing.
type visitSet struct {
	stamp []uint32
	epoch uint32
}

func (g *graph) getVisits(n int) *visitSet {
	v, _ := g.visits.Get().(*visitSet)
	if v == nil {
		v = &visitSet{}
	}
	if len(v.stamp) < n {
		v.stamp = make([]uint32, n+n/8)
		v.epoch = 0
	}
	v.epoch++
	if v.epoch == 0 {
		clear(v.stamp)
		v.epoch = 1
	}
	return v
}

// parseUID parses a canonical lower-case UUID string (as store.NewID makes).
func parseUID(s string) ([16]byte, bool) {
	var u [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	// Branch-free: every lookup is made, and a digit that is not one sets
	// a high bit of bad. Every analysis parses each CI it reads this way,
	// tens of thousands of times a hub.
	var bad byte
	for j, p := range uidDigits {
		hi, lo := hexVal[s[p]], hexVal[s[p+1]]
		bad |= hi | lo
		u[j] = hi<<4 | lo
	}
	return u, bad&0xf0 == 0
}

// uidDigits are the positions of a UID's 16 pairs of hex digits.
var uidDigits = [16]uint8{0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34}

// hexVal is the value of each lower-case hex digit, 0xff for any other
// byte (the canonical form has no upper case).
var hexVal = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := byte('0'); c <= '9'; c++ {
		t[c] = c - '0'
	}
	for c := byte('a'); c <= 'f'; c++ {
		t[c] = c - 'a' + 10
	}
	return t
}()

// formatUID is the inverse of parseUID.
func formatUID(u [16]byte) string { return string(appendUID(nil, u)) }

// appendUID appends the canonical form of u.
func appendUID(b []byte, u [16]byte) []byte {
	n := len(b)
	b = append(b, "00000000-0000-0000-0000-000000000000"...)
	d := b[n:]
	hex.Encode(d[0:8], u[0:4])
	hex.Encode(d[9:13], u[4:6])
	hex.Encode(d[14:18], u[6:8])
	hex.Encode(d[19:23], u[8:10])
	hex.Encode(d[24:36], u[10:16])
	return b
}
