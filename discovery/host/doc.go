// Package host reports the machine it runs on, through
// github.com/shirou/gopsutil/v4: the machine as a server, the services
// listening on it as application instances, and the dependencies its
// established TCP connections reveal. It is what an agent installed on a
// host runs; one batch, scoped "host:<fqdn>" when it is the whole view:
// run as root, or when the process of every listening socket could be read
// all the same (else the scope is left out, lest the server retire the
// services it missed). A socket no process of this host's process
// namespace owns (a container's sharing the network) is left out.
//
// Mapping:
//   - The machine is a LinuxServer (WindowsServer on Windows, Server
//     elsewhere): name is the host name up to its first dot, dns_domain the
//     rest, fqdn Options.FQDN, else the host name, completed through the
//     resolver when it has no dot. os_name and os_version are gopsutil's
//     platform and platform version ("debian", "12.11"), kernel_version the
//     kernel's release, cpu_count the logical processors, memory_mb the
//     memory. On Linux, serial_number, manufacturer and model are read from
//     /sys/class/dmi/id (the serial needs root; placeholders are passed on,
//     the server does not identify by them). ip_address and mac_address are
//     those of the primary interface: the first, by name, that is up, not a
//     loopback, and has a MAC and an IPv4 address. A virtual guest is
//     tagged "virtual" and "virtualization:<system>".
//   - Each TCP port a process listens on is an ApplicationInstance named
//     "<process>:<port>" (application: the process name; host: the fqdn;
//     port; install_path: the executable, when readable): an instance is
//     identified by name and host, and one program may serve several ports
//     or run as several instances. It RUNS_ON the server, named by identity
//     so that the link holds whichever source reported the server. A socket
//     whose process cannot be read (another user's, without root) is left
//     out.
//   - An established TCP connection from a process that is itself a
//     listening service (client) to a listening port (server) makes every
//     instance of the client process DEPEND_ON the server's instance when the
//     server is local (loopback or one of this host's addresses), or on an
//     Endpoint (host: the remote address, port, protocol tcp, in the batch)
//     when it is remote. The accepting end of a connection, and
//     connections of processes that listen on nothing (a cron job, a shell),
//     add nothing: the CMDB links services, not every process.
//   - With Options.ProposedClasses, each interface but loopback is a
//     NetworkInterface (discovery/model-proposal.yaml) the server CONTAINS.
//
// Installed packages are not reported: model.yaml has no class for a
// package installed on a host (Application is identified by name alone, so
// a package's version would flap between hosts), and one per package would
// swamp the graph; see the report that proposed this package.
package host
