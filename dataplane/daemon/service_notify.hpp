// Tells the service manager how the daemon is doing (systemd's Type=notify):
// ready once the bridge forwards and the control socket answers, reloading
// while a SIGHUP reload runs, stopping once shutdown begins. Outside
// systemd (no NOTIFY_SOCKET) every call does nothing.
#pragma once

#include <string>

namespace sluice::dataplane {

void notify_ready(const std::string& status);
void notify_reloading();
void notify_stopping();

}  // namespace sluice::dataplane
