// Package nmap turns an nmap XML report (`nmap -oX`), read with
// github.com/Ullaakut/nmap/v3, into discovery batches: one per host that
// is up, scoped "host:<address>", holding the device and its open ports.
// Source reads a report file; Scan runs nmap and reads its report.
//
// Mapping:
//   - The device's class comes from nmap's best OS match (its first
//     osclass, when the match is at least Options.MinOSAccuracy sure):
//     type router, switch or firewall give Router, Switch or Firewall;
//     other network gear (WAP, broadband router, load balancer...) gives
//     NetworkDevice; a general purpose Linux or Windows gives LinuxServer or
//     WindowsServer; anything else, and a host without an OS match, a
//     Server.
//   - name is the host name (a PTR name first, else the name scanned) up to
//     its first dot, dns_domain the rest, or Options.Domain for a bare name;
//     fqdn joins them. A server's ip_address, a network device's
//     management_ip, is the IPv4 (else IPv6) address; mac_address is the
//     MAC nmap saw (hosts on the scanner's own segment only). The MAC's
//     vendor is a tag "mac_vendor:<vendor>", the OS match's vendor a network
//     device's manufacturer, and the OS match itself the description.
//   - A host nothing identifies (no MAC, and no name with a domain) cannot
//     be reported: the server could not tell it from another. It is named
//     in Skipped. Set Options.Domain to give bare names a domain.
//   - Each open port is an ApplicationInstance, named "<service>:<port>"
//     ("<service>:<port>/udp" for UDP; the service as nmap names it, e.g.
//     ssh, https, ssl/imap, or "unknown"), with host (the device's fqdn, else its
//     address) and port: an instance is identified by name and host, and one
//     host can run a service on several ports. application and version are
//     the product and version nmap's version detection (-sV) found. The
//     instance RUNS_ON the server, named by identity (Server, with the
//     identifying attributes known), so that the link holds when another
//     source reports the same machine. A network device is no RUNS_ON
//     target in model.yaml: there the instance is HOSTED_ON it.
//
// A report is a view of the ports that were scanned: scan a host with the
// same port list each time, since the batch's scope tells the server that
// an instance missing from it is gone.
package nmap
