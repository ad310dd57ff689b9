// Package ansible turns the facts Ansible gathers into discovery batches:
// it reads the directory that `ansible all -m setup --tree DIR` writes, one
// JSON file per host holding {"ansible_facts": {...}}, and reports each host
// as a server, in a batch scoped "host:<fqdn>".
//
// Mapping:
//   - The class follows ansible_system / ansible_os_family: LinuxServer for
//     Linux, WindowsServer for Windows, Server for any other system.
//   - name is ansible_hostname, dns_domain ansible_domain, fqdn
//     ansible_fqdn unless Ansible could only say "localhost" (then the host
//     name, with the domain when known); serial_number is
//     ansible_product_serial (placeholders such as "To be filled by O.E.M."
//     are passed on: the server does not identify by them); ip_address and
//     mac_address are those of the default IPv4 route's interface (on
//     Windows, the first address and the first interface with a MAC);
//     os_name, os_version, kernel_version, cpu_count, memory_mb,
//     manufacturer and model come from ansible_distribution,
//     ansible_distribution_version, ansible_kernel, ansible_processor_vcpus,
//     ansible_memtotal_mb, ansible_system_vendor and ansible_product_name.
//     Ansible's "NA" (not available) is left out.
//   - A virtual guest (ansible_virtualization_role "guest") stays a
//     LinuxServer or WindowsServer, tagged "virtual" and
//     "virtualization:<type>" (kvm, vmware, docker...), rather than a
//     VirtualMachine: the OS decides which attributes apply (kernel_version
//     is a LinuxServer attribute), and a VirtualMachine is identified by the
//     hypervisor's vm_uuid, which belongs to the hypervisor's source. The
//     in-guest view and the hypervisor's merge through serial_number when
//     both report it (VMware guests show "VMware-<uuid>"); model-proposal.yaml
//     proposes vm_uuid on Server to merge them always.
//   - Network interfaces and disks have no class in model.yaml. With
//     Options.ProposedClasses they are reported as the NetworkInterface and
//     Disk classes of discovery/model-proposal.yaml, each CONTAINed by its
//     server (loopback interfaces are left out, and so are block devices
//     that are no disk of their own: loop, RAM, device-mapper, optical);
//     without it, they are not reported.
//
// A file without ansible_facts (an unreachable or failed host: Ansible
// writes {"unreachable": true, "msg": ...}) yields no batch; its host is
// named in Source.Skipped.
package ansible
