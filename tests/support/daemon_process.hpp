// Runs sluiced (or any program) as a child process for integration tests:
// its stderr goes to a log file the test can wait on and read.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <sys/types.h>

namespace sluice::test {

class DaemonProcess {
public:
    DaemonProcess(const std::string& program, const std::vector<std::string>& args,
                  const std::string& log_path);
    ~DaemonProcess();  // kills the child if the test did not stop it
    DaemonProcess(const DaemonProcess&) = delete;
    DaemonProcess& operator=(const DaemonProcess&) = delete;

    // Waits until the log contains `text`; false on timeout or if the child exited.
    bool wait_for_log(const std::string& text, std::chrono::milliseconds timeout);
    // Sends `signal` and waits for the exit; returns the exit status (or 128+signal).
    int stop(int signal, std::chrono::milliseconds timeout = std::chrono::seconds(10));
    std::string log() const;
    bool running();

private:
    pid_t pid_ = -1;
    std::string log_path_;
    int status_ = -1;
};

// The value of `key=` in the first log line that contains `line_tag`, or -1.
long long log_value(const std::string& log, const std::string& line_tag, const std::string& key);

// Directory of the sluiced binary under test, from the SLUICED environment variable.
std::string sluiced_path();

}  // namespace sluice::test
