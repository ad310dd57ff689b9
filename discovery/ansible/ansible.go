package ansible

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/skein-cmdb/skein/discovery"
)

// SourceName is the discovery source name of the batches.
const SourceName = "ansible"

// Options tune what is reported.
type Options struct {
	// ProposedClasses reports network interfaces and disks as the
	// NetworkInterface and Disk classes of discovery/model-proposal.yaml,
	// which the server's default model does not have yet.
	ProposedClasses bool
}

// Source reads a fact tree directory.
type Source struct {
	dir  string
	opts Options
	// Skipped lists the hosts of the last Collect that had no facts
	// (unreachable or failed).
	Skipped []string
}

var _ discovery.Source = (*Source)(nil)

// New returns a source reading the fact tree that `ansible -m setup --tree
// dir` wrote.
func New(dir string, opts Options) *Source {
	return &Source{dir: dir, opts: opts}
}

// Name returns "ansible".
func (s *Source) Name() string { return SourceName }

// Collect reads every host file of the directory, in name order, and
// returns one batch per host that has facts.
func (s *Source) Collect(ctx context.Context) ([]discovery.Batch, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("ansible: read fact tree: %w", err)
	}
	s.Skipped = nil
	var out []discovery.Batch
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("ansible: %w", err)
		}
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(s.dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("ansible: %w", err)
		}
		b, ok, err := HostBatch(data, s.opts)
		if err != nil {
			return nil, fmt.Errorf("ansible: host %s: %w", e.Name(), err)
		}
		if !ok {
			s.Skipped = append(s.Skipped, e.Name())
			continue
		}
		out = append(out, b)
	}
	return out, nil
}

// hostFile is one file of the tree.
type hostFile struct {
	Facts map[string]json.RawMessage `json:"ansible_facts"`
}

// facts are the facts read; Ansible writes numbers as JSON numbers and
// most of the rest as strings.
type facts struct {
	Hostname       string                     `json:"ansible_hostname"`
	FQDN           string                     `json:"ansible_fqdn"`
	Domain         string                     `json:"ansible_domain"`
	System         string                     `json:"ansible_system"`
	OSFamily       string                     `json:"ansible_os_family"`
	Distribution   string                     `json:"ansible_distribution"`
	DistVersion    string                     `json:"ansible_distribution_version"`
	Kernel         string                     `json:"ansible_kernel"`
	Serial         string                     `json:"ansible_product_serial"`
	Vendor         string                     `json:"ansible_system_vendor"`
	Product        string                     `json:"ansible_product_name"`
	VCPUs          *int                       `json:"ansible_processor_vcpus"`
	MemTotalMB     *int                       `json:"ansible_memtotal_mb"`
	VirtRole       string                     `json:"ansible_virtualization_role"`
	VirtType       string                     `json:"ansible_virtualization_type"`
	WindowsDomain  string                     `json:"ansible_windows_domain"`
	DefaultIPv4    iface                      `json:"ansible_default_ipv4"`
	IPAddresses    []string                   `json:"ansible_ip_addresses"` // Windows
	Interfaces     json.RawMessage            `json:"ansible_interfaces"`
	Devices        map[string]device          `json:"ansible_devices"`
	interfaceFacts map[string]json.RawMessage // ansible_<interface>
}

// iface is ansible_default_ipv4 and each ansible_<interface> of a Linux
// host (a Windows host lists its interfaces in ansible_interfaces).
type iface struct {
	Device    string `json:"device"`
	Interface string `json:"interface"`
	Address   string `json:"address"`
	MAC       string `json:"macaddress"`
	Type      string `json:"type"`
	MTU       *int   `json:"mtu"`
	Speed     *int   `json:"speed"`
	IPv4      *struct {
		Address string `json:"address"`
	} `json:"ipv4"`
	IPv4Secondaries []struct {
		Address string `json:"address"`
	} `json:"ipv4_secondaries"`
	IPv6 []struct {
		Address string `json:"address"`
	} `json:"ipv6"`
}

// windowsIface is one entry of a Windows host's ansible_interfaces.
type windowsIface struct {
	ConnectionName string `json:"connection_name"`
	InterfaceName  string `json:"interface_name"`
	MAC            string `json:"macaddress"`
}

// device is one entry of ansible_devices.
type device struct {
	Model      *string `json:"model"`
	Vendor     *string `json:"vendor"`
	Serial     *string `json:"serial"`
	Sectors    any     `json:"sectors"` // a number or a string, by Ansible version
	SectorSize any     `json:"sectorsize"`
	Rotational string  `json:"rotational"`
}

// notDisks are the name prefixes of Linux block devices that are no disk
// of their own: loop and RAM devices, device-mapper volumes (LVM, crypt)
// and optical drives. Ansible's "virtual" flag says nothing useful: it is 1
// wherever /sys/block holds symbolic links, that is almost everywhere.
var notDisks = []string{"loop", "ram", "zram", "dm-", "sr", "fd"}

// HostBatch maps one host file of the tree to a batch; ok is false when
// the file holds no facts (an unreachable or failed host).
func HostBatch(data []byte, opts Options) (b discovery.Batch, ok bool, err error) {
	var hf hostFile
	if err := json.Unmarshal(data, &hf); err != nil {
		return b, false, fmt.Errorf("parse facts: %w", err)
	}
	if len(hf.Facts) == 0 {
		return b, false, nil
	}
	f, err := decodeFacts(data, hf.Facts)
	if err != nil {
		return b, false, err
	}
	return f.batch(opts), true, nil
}

// decodeFacts reads the facts used. A fact of an unexpected JSON type (a
// number written as a string by some module version) is left unset rather
// than failing the host.
func decodeFacts(data []byte, raw map[string]json.RawMessage) (*facts, error) {
	var wrapper struct {
		Facts facts `json:"ansible_facts"`
	}
	var typeErr *json.UnmarshalTypeError
	if err := json.Unmarshal(data, &wrapper); err != nil && !errors.As(err, &typeErr) {
		return nil, fmt.Errorf("parse facts: %w", err)
	}
	f := &wrapper.Facts
	f.interfaceFacts = raw
	if f.Hostname == "" {
		return nil, errors.New("facts: no ansible_hostname")
	}
	return f, nil
}

// known drops Ansible's "NA" (not available) and surrounding blanks.
func known(s string) string {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "NA") {
		return ""
	}
	return s
}

func (f *facts) class() string {
	switch {
	case f.System == "Linux":
		return "LinuxServer"
	case f.OSFamily == "Windows" || strings.HasPrefix(f.System, "Win"):
		return "WindowsServer"
	}
	return "Server"
}

// fqdn is ansible_fqdn, unless that is only localhost (a host whose name
// does not resolve), then the host name with its domain.
func (f *facts) fqdn() string {
	fqdn := strings.ToLower(strings.TrimSuffix(known(f.FQDN), "."))
	if fqdn == "" || fqdn == "localhost" || strings.HasPrefix(fqdn, "localhost.") {
		fqdn = strings.ToLower(f.Hostname)
		if d := known(f.Domain); d != "" {
			fqdn += "." + strings.ToLower(d)
		}
	}
	return fqdn
}

func (f *facts) batch(opts Options) discovery.Batch {
	class := f.class()
	fqdn := f.fqdn()
	b := discovery.Batch{Source: SourceName, Scope: &discovery.Scope{Name: "host:" + fqdn}}
	attrs := map[string]any{
		"name":          f.Hostname,
		"fqdn":          fqdn,
		"dns_domain":    known(f.Domain),
		"serial_number": known(f.Serial),
		"os_name":       known(f.Distribution),
		"os_version":    known(f.DistVersion),
		"manufacturer":  known(f.Vendor),
		"model":         known(f.Product),
	}
	ip, mac := f.primaryAddress()
	attrs["ip_address"], attrs["mac_address"] = ip, mac
	if class == "LinuxServer" {
		attrs["kernel_version"] = known(f.Kernel)
	}
	if class == "WindowsServer" {
		attrs["windows_domain"] = known(f.WindowsDomain)
	}
	if f.VCPUs != nil && *f.VCPUs > 0 {
		attrs["cpu_count"] = *f.VCPUs
	}
	if f.MemTotalMB != nil && *f.MemTotalMB > 0 {
		attrs["memory_mb"] = *f.MemTotalMB
	}
	if f.VirtRole == "guest" {
		tags := []string{"virtual"}
		if t := known(f.VirtType); t != "" {
			tags = append(tags, "virtualization:"+t)
		}
		attrs["tags"] = tags
	}
	server := discovery.CI{Ref: "server", Class: class, Attributes: attrs}
	b.AddCI(server)
	if opts.ProposedClasses {
		f.addInterfaces(&b, fqdn)
		f.addDisks(&b, fqdn)
	}
	return b
}

// primaryAddress returns the IPv4 address and MAC of the default route's
// interface; on Windows, the first IPv4 address and the first MAC.
func (f *facts) primaryAddress() (ip, mac string) {
	if f.DefaultIPv4.Address != "" {
		return f.DefaultIPv4.Address, f.DefaultIPv4.MAC
	}
	for _, a := range f.IPAddresses {
		if !strings.Contains(a, ":") {
			ip = a
			break
		}
	}
	var win []windowsIface
	if json.Unmarshal(f.Interfaces, &win) == nil {
		for _, w := range win {
			if w.MAC != "" {
				return ip, w.MAC
			}
		}
	}
	return ip, ""
}

// addInterfaces reports the Linux interfaces (ansible_interfaces names
// them, ansible_<name> describes each), loopback left out.
func (f *facts) addInterfaces(b *discovery.Batch, fqdn string) {
	var names []string
	if json.Unmarshal(f.Interfaces, &names) != nil {
		return // a Windows host's list of objects: no per-interface facts to read
	}
	sort.Strings(names)
	for _, name := range names {
		var it iface
		if !f.interfaceFact(name, &it) || it.Type == "loopback" {
			continue
		}
		var ips []string
		if it.IPv4 != nil {
			ips = append(ips, it.IPv4.Address)
		}
		for _, a := range it.IPv4Secondaries {
			ips = append(ips, a.Address)
		}
		for _, a := range it.IPv6 {
			ips = append(ips, a.Address)
		}
		attrs := map[string]any{
			"name": name, "host": fqdn, "mac_address": it.MAC,
			"ip_addresses": ips, "interface_type": it.Type,
		}
		if it.MTU != nil && *it.MTU > 0 {
			attrs["mtu"] = *it.MTU
		}
		if it.Speed != nil && *it.Speed > 0 {
			attrs["speed_mbps"] = *it.Speed
		}
		ref := b.AddCI(discovery.CI{Ref: "interface:" + name, Class: "NetworkInterface", Attributes: attrs})
		b.Relate("CONTAINS", discovery.ByRef("server"), discovery.ByRef(ref))
	}
}

// interfaceFact decodes ansible_<name>; Ansible writes the dashes and dots
// of interface names as underscores there.
func (f *facts) interfaceFact(name string, into *iface) bool {
	for _, key := range []string{name, strings.NewReplacer("-", "_", ".", "_", ":", "_").Replace(name)} {
		if raw, ok := f.interfaceFacts["ansible_"+key]; ok && json.Unmarshal(raw, into) == nil {
			return true
		}
	}
	return false
}

// addDisks reports the block devices that have a size, but for those
// named in notDisks.
func (f *facts) addDisks(b *discovery.Batch, fqdn string) {
	names := make([]string, 0, len(f.Devices))
	for name := range f.Devices {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		d := f.Devices[name]
		sectors, sectorSize := number(d.Sectors), number(d.SectorSize)
		if sectors <= 0 || slices.ContainsFunc(notDisks, func(p string) bool { return strings.HasPrefix(name, p) }) {
			continue
		}
		attrs := map[string]any{
			"name": name, "host": fqdn,
			"model": deref(d.Model), "manufacturer": deref(d.Vendor), "serial_number": deref(d.Serial),
			"size_gb":    float64(int64(sectors*sectorSize/1e7)) / 100, // GB (10^9 bytes), two decimals
			"rotational": d.Rotational == "1",
		}
		ref := b.AddCI(discovery.CI{Ref: "disk:" + name, Class: "Disk", Attributes: attrs})
		b.Relate("CONTAINS", discovery.ByRef("server"), discovery.ByRef(ref))
	}
}

// number reads a fact Ansible writes as a number or a numeric string.
func number(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case string:
		f, _ := strconv.ParseFloat(x, 64)
		return f
	}
	return 0
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return known(*s)
}
