package host

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	gohost "github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/mem"
	gonet "github.com/shirou/gopsutil/v4/net"
	"github.com/shirou/gopsutil/v4/process"

	"github.com/skein-cmdb/skein/discovery"
)

// SourceName is the discovery source name of the batch.
const SourceName = "host"

// Options tune what is reported.
type Options struct {
	// FQDN overrides the machine's fully qualified name.
	FQDN string
	// ProposedClasses reports network interfaces as the NetworkInterface
	// class of discovery/model-proposal.yaml.
	ProposedClasses bool
}

// Source looks at this machine.
type Source struct{ opts Options }

var _ discovery.Source = (*Source)(nil)

// New returns a source looking at this machine.
func New(opts Options) *Source { return &Source{opts: opts} }

// Name returns "host".
func (s *Source) Name() string { return SourceName }

// Collect looks at the machine once and returns its batch.
func (s *Source) Collect(ctx context.Context) ([]discovery.Batch, error) {
	snap, err := gather(ctx, s.opts.FQDN)
	if err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	return []discovery.Batch{snap.batch(s.opts)}, nil
}

// snapshot is what the mapping reads of the machine, so that it can be
// tested on a machine made up.
type snapshot struct {
	info        gohost.InfoStat
	fqdn        string
	cpus        int
	memoryBytes uint64
	dmi         dmi
	interfaces  []gonet.InterfaceStat
	connections []gonet.ConnectionStat
	processes   map[int32]proc // of the listening and connected sockets
	// root: every process of this host's process namespace could be read,
	// so a socket whose process is unknown belongs to another namespace
	// (a container sharing the network), not to a process left unread.
	root bool
}

type dmi struct{ serial, vendor, product string }

type proc struct{ name, exe string }

func gather(ctx context.Context, fqdn string) (*snapshot, error) {
	info, err := gohost.InfoWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("host info: %w", err)
	}
	s := &snapshot{info: *info, fqdn: fqdn, processes: map[int32]proc{}, root: os.Geteuid() == 0}
	if s.fqdn == "" {
		s.fqdn = lookupFQDN(ctx, info.Hostname)
	}
	if s.cpus, err = cpu.CountsWithContext(ctx, true); err != nil {
		return nil, fmt.Errorf("cpu count: %w", err)
	}
	vm, err := mem.VirtualMemoryWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("memory: %w", err)
	}
	s.memoryBytes = vm.Total
	if runtime.GOOS == "linux" {
		s.dmi = readDMI("/sys/class/dmi/id")
	}
	if s.interfaces, err = gonet.InterfacesWithContext(ctx); err != nil {
		return nil, fmt.Errorf("interfaces: %w", err)
	}
	if s.connections, err = gonet.ConnectionsWithContext(ctx, "tcp"); err != nil {
		return nil, fmt.Errorf("tcp connections: %w", err)
	}
	for _, c := range s.connections {
		if c.Pid == 0 || (c.Status != "LISTEN" && c.Status != "ESTABLISHED") {
			continue
		}
		if _, seen := s.processes[c.Pid]; seen {
			continue
		}
		p, err := process.NewProcessWithContext(ctx, c.Pid)
		if err != nil {
			continue // gone since
		}
		name, err := p.NameWithContext(ctx)
		if err != nil || name == "" {
			continue
		}
		exe, _ := p.ExeWithContext(ctx) // unreadable without the rights: left out
		s.processes[c.Pid] = proc{name: name, exe: exe}
	}
	return s, nil
}

// lookupFQDN completes a host name without a dot through the resolver
// (/etc/hosts, DNS), keeping it as it is when that says nothing better.
func lookupFQDN(ctx context.Context, hostname string) string {
	hostname = strings.ToLower(hostname)
	if strings.Contains(hostname, ".") {
		return strings.TrimSuffix(hostname, ".")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	cname, err := net.DefaultResolver.LookupCNAME(ctx, hostname)
	cname = strings.ToLower(strings.TrimSuffix(cname, "."))
	if err != nil || !strings.HasPrefix(cname, hostname+".") {
		return hostname
	}
	return cname
}

// readDMI reads the SMBIOS identity Linux exposes; a file it cannot read
// (product_serial is root's) is left empty.
func readDMI(dir string) dmi {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	return dmi{serial: read("product_serial"), vendor: read("sys_vendor"), product: read("product_name")}
}

func (s *snapshot) class() string {
	switch s.info.OS {
	case "linux":
		return "LinuxServer"
	case "windows":
		return "WindowsServer"
	}
	return "Server"
}

// primary returns the first interface, by name, that is up, not a
// loopback, and has a MAC and an IPv4 address, with that address.
func (s *snapshot) primary() (gonet.InterfaceStat, string, bool) {
	ifs := append([]gonet.InterfaceStat(nil), s.interfaces...)
	sort.Slice(ifs, func(i, j int) bool { return ifs[i].Name < ifs[j].Name })
	for _, i := range ifs {
		if !hasFlag(i, "up") || hasFlag(i, "loopback") || i.HardwareAddr == "" {
			continue
		}
		for _, a := range i.Addrs {
			if ip := addrIP(a.Addr); ip.Is4() {
				return i, ip.String(), true
			}
		}
	}
	return gonet.InterfaceStat{}, "", false
}

func hasFlag(i gonet.InterfaceStat, flag string) bool { return slices.Contains(i.Flags, flag) }

// addrIP parses an interface address ("10.0.0.5/24") or a socket address,
// IPv4-mapped IPv6 addresses as IPv4.
func addrIP(s string) netip.Addr {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Addr().Unmap()
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

func (s *snapshot) batch(opts Options) discovery.Batch {
	fqdn := strings.ToLower(s.fqdn)
	if fqdn == "" {
		fqdn = strings.ToLower(s.info.Hostname)
	}
	name, domain, _ := strings.Cut(fqdn, ".")
	b := discovery.Batch{Source: SourceName}
	if s.complete() {
		b.Scope = &discovery.Scope{Name: "host:" + fqdn}
	}
	attrs := map[string]any{
		"name": name, "dns_domain": domain, "fqdn": fqdn,
		"os_name": s.info.Platform, "os_version": s.info.PlatformVersion,
		"serial_number": s.dmi.serial, "manufacturer": s.dmi.vendor, "model": s.dmi.product,
	}
	if s.class() == "LinuxServer" {
		attrs["kernel_version"] = s.info.KernelVersion
	}
	if s.cpus > 0 {
		attrs["cpu_count"] = s.cpus
	}
	if s.memoryBytes > 0 {
		attrs["memory_mb"] = int(s.memoryBytes / (1 << 20))
	}
	if primary, ip, ok := s.primary(); ok {
		attrs["ip_address"], attrs["mac_address"] = ip, primary.HardwareAddr
	}
	if s.info.VirtualizationRole == "guest" {
		tags := []string{"virtual"}
		if s.info.VirtualizationSystem != "" {
			tags = append(tags, "virtualization:"+s.info.VirtualizationSystem)
		}
		attrs["tags"] = tags
	}
	b.AddCI(discovery.CI{Ref: "server", Class: s.class(), Attributes: attrs})
	server := discovery.IdentityOf(b.CIs[0], "Server", discovery.ServerIdentity())
	if opts.ProposedClasses {
		s.addInterfaces(&b, fqdn)
	}
	s.addServices(&b, fqdn, server)
	return b
}

// complete reports whether the process of every listening socket could be
// read: only then is the batch the whole view of the host, which its scope
// claims (else the server would retire the services it could not see).
// Run as root, it is.
func (s *snapshot) complete() bool {
	if s.root {
		return true
	}
	for _, c := range s.connections {
		if _, ok := s.processes[c.Pid]; c.Status == "LISTEN" && !ok {
			return false
		}
	}
	return true
}

func (s *snapshot) addInterfaces(b *discovery.Batch, fqdn string) {
	ifs := append([]gonet.InterfaceStat(nil), s.interfaces...)
	sort.Slice(ifs, func(i, j int) bool { return ifs[i].Name < ifs[j].Name })
	for _, i := range ifs {
		if hasFlag(i, "loopback") {
			continue
		}
		var ips []string
		for _, a := range i.Addrs {
			if ip := addrIP(a.Addr); ip.IsValid() {
				ips = append(ips, ip.String())
			}
		}
		attrs := map[string]any{"name": i.Name, "host": fqdn, "mac_address": i.HardwareAddr, "ip_addresses": ips}
		if i.MTU > 0 {
			attrs["mtu"] = i.MTU
		}
		ref := b.AddCI(discovery.CI{Ref: "interface:" + i.Name, Class: "NetworkInterface", Attributes: attrs})
		b.Relate("CONTAINS", discovery.ByRef("server"), discovery.ByRef(ref))
	}
}

// listener is one listening socket and the instance it belongs to.
type listener struct {
	ip   netip.Addr // unspecified for a wildcard
	port uint32
	pid  int32
	ref  string
}

// addServices reports the listening services and the dependencies the
// established connections between them reveal.
func (s *snapshot) addServices(b *discovery.Batch, fqdn string, server discovery.End) {
	var listeners []listener
	byPid := map[int32][]string{} // instance refs of each listening process
	conns := append([]gonet.ConnectionStat(nil), s.connections...)
	sort.SliceStable(conns, func(i, j int) bool { return conns[i].Laddr.Port < conns[j].Laddr.Port })
	for _, c := range conns {
		p, ok := s.processes[c.Pid]
		if c.Status != "LISTEN" || !ok {
			continue
		}
		instance := p.name + ":" + strconv.Itoa(int(c.Laddr.Port))
		ref := "instance:" + instance
		if !hasCI(b, ref) {
			b.AddCI(discovery.CI{Ref: ref, Class: "ApplicationInstance", Attributes: map[string]any{
				"name": instance, "application": p.name, "host": fqdn, "port": int(c.Laddr.Port), "install_path": p.exe,
			}})
			b.Relate("RUNS_ON", discovery.ByRef(ref), server)
		}
		listeners = append(listeners, listener{ip: addrIP(c.Laddr.IP), port: c.Laddr.Port, pid: c.Pid, ref: ref})
		if !slices.Contains(byPid[c.Pid], ref) {
			byPid[c.Pid] = append(byPid[c.Pid], ref)
		}
	}
	local := s.localAddresses()
	for _, c := range conns {
		clients := byPid[c.Pid]
		if c.Status != "ESTABLISHED" || len(clients) == 0 {
			continue
		}
		if len(match(listeners, addrIP(c.Laddr.IP), c.Laddr.Port, s.processes[c.Pid].name, s.processes)) > 0 {
			continue // the accepting end
		}
		remote := addrIP(c.Raddr.IP)
		var targets []discovery.End
		if remote.IsLoopback() || local[remote] {
			for _, ref := range match(listeners, remote, c.Raddr.Port, "", s.processes) {
				targets = append(targets, discovery.ByRef(ref))
			}
		} else if remote.IsValid() {
			ref := "endpoint:" + netip.AddrPortFrom(remote, uint16(c.Raddr.Port)).String()
			if !hasCI(b, ref) {
				b.AddCI(discovery.CI{Ref: ref, Class: "Endpoint", Attributes: map[string]any{
					"name": netip.AddrPortFrom(remote, uint16(c.Raddr.Port)).String(),
					"host": remote.String(), "port": int(c.Raddr.Port), "protocol": "tcp",
				}})
			}
			targets = append(targets, discovery.ByRef(ref))
		}
		for _, from := range clients {
			for _, to := range targets {
				if to.Ref != from {
					b.Relate("DEPENDS_ON", discovery.ByRef(from), to)
				}
			}
		}
	}
}

// match returns the instances listening at ip:port; with name, only those
// of processes of that name.
func match(listeners []listener, ip netip.Addr, port uint32, name string, procs map[int32]proc) []string {
	var out []string
	for _, l := range listeners {
		if l.port != port || (l.ip.IsValid() && !l.ip.IsUnspecified() && l.ip != ip) {
			continue
		}
		if name != "" && procs[l.pid].name != name {
			continue
		}
		if !slices.Contains(out, l.ref) {
			out = append(out, l.ref)
		}
	}
	return out
}

// localAddresses are this host's interface addresses.
func (s *snapshot) localAddresses() map[netip.Addr]bool {
	out := map[netip.Addr]bool{}
	for _, i := range s.interfaces {
		for _, a := range i.Addrs {
			if ip := addrIP(a.Addr); ip.IsValid() {
				out[ip] = true
			}
		}
	}
	return out
}

func hasCI(b *discovery.Batch, ref string) bool {
	return slices.ContainsFunc(b.CIs, func(ci discovery.CI) bool { return ci.Ref == ref })
}
