package nmap

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"

	nmapxml "github.com/Ullaakut/nmap/v3"

	"github.com/skein-cmdb/skein/discovery"
)

// SourceName is the discovery source name of the batches.
const SourceName = "nmap"

// Options tune the mapping.
type Options struct {
	// Domain is the DNS domain of hosts whose names have none.
	Domain string
	// MinOSAccuracy is the accuracy (percent) below which an OS match is
	// ignored; 0 means 90.
	MinOSAccuracy int
}

// Source reads an nmap XML report file.
type Source struct {
	path string
	opts Options
	// Skipped lists the addresses of the hosts of the last Collect that
	// nothing identifies.
	Skipped []string
}

var _ discovery.Source = (*Source)(nil)

// New returns a source reading the report that `nmap -oX path` wrote.
func New(path string, opts Options) *Source { return &Source{path: path, opts: opts} }

// Name returns "nmap".
func (s *Source) Name() string { return SourceName }

// Collect reads and maps the report.
func (s *Source) Collect(ctx context.Context) ([]discovery.Batch, error) {
	data, err := os.ReadFile(s.path)
	if err != nil {
		return nil, fmt.Errorf("nmap: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("nmap: %w", err)
	}
	batches, skipped, err := Parse(data, s.opts)
	s.Skipped = skipped
	return batches, err
}

// Parse maps an nmap XML report: a batch per host that is up and
// identifiable, and the addresses of those skipped for want of identity.
func Parse(data []byte, opts Options) (batches []discovery.Batch, skipped []string, err error) {
	var run nmapxml.Run
	if err := nmapxml.Parse(data, &run); err != nil {
		return nil, nil, fmt.Errorf("nmap: parse report: %w", err)
	}
	batches, skipped = mapRun(&run, opts)
	return batches, skipped, nil
}

func mapRun(run *nmapxml.Run, opts Options) (batches []discovery.Batch, skipped []string) {
	if opts.MinOSAccuracy == 0 {
		opts.MinOSAccuracy = 90
	}
	for _, h := range run.Hosts {
		if h.Status.State != "up" {
			continue
		}
		b, ok := hostBatch(h, opts)
		if !ok {
			skipped = append(skipped, address(h))
			continue
		}
		batches = append(batches, b)
	}
	return batches, skipped
}

// Scan runs nmap itself, through the library's Scanner, and maps the
// report it writes.
type Scan struct {
	scan []nmapxml.Option
	opts Options
	// Skipped lists the addresses of the hosts of the last Collect that
	// nothing identifies.
	Skipped []string
}

var _ discovery.Source = (*Scan)(nil)

// NewScan returns a source running nmap with the library's typed options,
// e.g. nmap.WithTargets("10.0.0.0/24"), nmap.WithPorts("22,80,443"),
// nmap.WithServiceInfo() (and nmap.WithBinaryPath for an nmap not on
// PATH). Scanning needs the consent of the network's owner.
func NewScan(opts Options, scan ...nmapxml.Option) *Scan {
	return &Scan{scan: scan, opts: opts}
}

// Name returns "nmap".
func (s *Scan) Name() string { return SourceName }

// Collect runs the scan and maps its report.
func (s *Scan) Collect(ctx context.Context) ([]discovery.Batch, error) {
	scanner, err := nmapxml.NewScanner(ctx, s.scan...)
	if err != nil {
		return nil, fmt.Errorf("nmap: %w", err)
	}
	run, _, err := scanner.Run()
	if err != nil {
		return nil, fmt.Errorf("nmap: scan: %w", err)
	}
	batches, skipped := mapRun(run, s.opts)
	s.Skipped = skipped
	return batches, nil
}

// address returns the host's IPv4 address, else its IPv6 address.
func address(h nmapxml.Host) string {
	var v6 string
	for _, a := range h.Addresses {
		switch a.AddrType {
		case "ipv4":
			return a.Addr
		case "ipv6":
			if v6 == "" {
				v6 = a.Addr
			}
		}
	}
	return v6
}

func mac(h nmapxml.Host) (addr, vendor string) {
	for _, a := range h.Addresses {
		if a.AddrType == "mac" {
			return a.Addr, a.Vendor
		}
	}
	return "", ""
}

// hostname returns the PTR name, else the name the scan was given.
func hostname(h nmapxml.Host) string {
	var user string
	for _, n := range h.Hostnames {
		switch n.Type {
		case "PTR":
			return strings.ToLower(strings.TrimSuffix(n.Name, "."))
		case "user":
			user = strings.ToLower(strings.TrimSuffix(n.Name, "."))
		}
	}
	return user
}

// osClass returns the best OS match and its first class, when sure enough.
func osClass(h nmapxml.Host, minAccuracy int) (match nmapxml.OSMatch, class nmapxml.OSClass, ok bool) {
	if len(h.OS.Matches) == 0 || h.OS.Matches[0].Accuracy < minAccuracy || len(h.OS.Matches[0].Classes) == 0 {
		return match, class, false
	}
	return h.OS.Matches[0], h.OS.Matches[0].Classes[0], true
}

// deviceClass picks the CI class from nmap's OS class.
func deviceClass(c nmapxml.OSClass, ok bool) string {
	if !ok {
		return "Server"
	}
	switch strings.ToLower(c.Type) {
	case "router":
		return "Router"
	case "switch":
		return "Switch"
	case "firewall":
		return "Firewall"
	case "wap", "broadband router", "software router", "load balancer", "terminal server", "bridge", "hub", "remote management", "security-misc":
		return "NetworkDevice"
	case "general purpose":
		switch strings.ToLower(c.Family) {
		case "linux":
			return "LinuxServer"
		case "windows":
			return "WindowsServer"
		}
	}
	return "Server"
}

func hostBatch(h nmapxml.Host, opts Options) (discovery.Batch, bool) {
	addr := address(h)
	macAddr, macVendor := mac(h)
	name, domain, fqdn := names(hostname(h), opts.Domain)
	if name == "" {
		name = addr
	}
	if macAddr == "" && domain == "" {
		return discovery.Batch{}, false
	}
	match, oc, osKnown := osClass(h, opts.MinOSAccuracy)
	class := deviceClass(oc, osKnown)
	network := class == "NetworkDevice" || class == "Router" || class == "Switch" || class == "Firewall"

	attrs := map[string]any{"name": name, "dns_domain": domain, "mac_address": macAddr}
	if macVendor != "" {
		attrs["tags"] = []string{"mac_vendor:" + macVendor}
	}
	if osKnown {
		attrs["description"] = fmt.Sprintf("nmap OS match: %s (%d%%)", match.Name, match.Accuracy)
	}
	if network {
		attrs["management_ip"] = addr
		if osKnown {
			attrs["manufacturer"] = oc.Vendor
		}
	} else {
		attrs["fqdn"] = fqdn
		attrs["ip_address"] = addr
		if osKnown {
			attrs["os_name"] = oc.Family
			attrs["os_version"] = oc.OSGeneration
		}
	}
	b := discovery.Batch{Source: SourceName, Scope: &discovery.Scope{Name: "host:" + addr}}
	device := discovery.CI{Ref: "device", Class: class, Attributes: attrs}
	b.AddCI(device)
	device = b.CIs[0]

	host := fqdn
	if host == "" {
		host = addr
	}
	for _, p := range h.Ports {
		if p.State.State != "open" {
			continue
		}
		service := serviceName(p.Service)
		instance := service + ":" + strconv.Itoa(int(p.ID))
		if p.Protocol != "tcp" {
			instance += "/" + p.Protocol
		}
		ref := b.AddCI(discovery.CI{Ref: "port:" + p.Protocol + "/" + strconv.Itoa(int(p.ID)), Class: "ApplicationInstance", Attributes: map[string]any{
			"name": instance, "host": host, "port": int(p.ID),
			"application": p.Service.Product, "version": p.Service.Version,
		}})
		if network {
			b.Relate("HOSTED_ON", discovery.ByRef(ref), discovery.IdentityOf(device, "NetworkDevice", networkDeviceIdentity))
		} else {
			b.Relate("RUNS_ON", discovery.ByRef(ref), discovery.IdentityOf(device, "Server", discovery.ServerIdentity()))
		}
	}
	return b, true
}

// serviceName is the service as nmap's normal output names it: "ssl/imap"
// for a service inside TLS, but "https" for HTTP inside TLS.
func serviceName(s nmapxml.Service) string {
	name := s.Name
	if name == "" {
		name = "unknown"
	}
	if s.Tunnel == "ssl" {
		if name == "http" {
			return "https"
		}
		return "ssl/" + name
	}
	return name
}

// networkDeviceIdentity lists the attributes of model.yaml's NetworkDevice
// identification rules.
var networkDeviceIdentity = []string{"serial_number", "mac_address", "name", "dns_domain"}

// names splits a host name into its first label and domain, the domain
// defaulting to defaultDomain, and returns the fqdn they make. An address
// given as the scan's target is no name.
func names(hostname, defaultDomain string) (name, domain, fqdn string) {
	if hostname == "" || isAddress(hostname) {
		return "", "", ""
	}
	name, domain, _ = strings.Cut(hostname, ".")
	if domain == "" {
		domain = strings.ToLower(strings.TrimSuffix(defaultDomain, "."))
	}
	fqdn = name
	if domain != "" {
		fqdn += "." + domain
	}
	return name, domain, fqdn
}

func isAddress(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}
