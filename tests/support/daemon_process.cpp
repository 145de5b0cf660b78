#include "tests/support/daemon_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace sluice::test {

DaemonProcess::DaemonProcess(const std::string& program, const std::vector<std::string>& args,
                             const std::string& log_path)
    : log_path_(log_path) {
    std::vector<std::string> storage{program};
    storage.insert(storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : storage) argv.push_back(s.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 2, 1);
    const int rc = posix_spawn(&pid_, program.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw std::runtime_error("cannot start " + program);
}

DaemonProcess::~DaemonProcess() {
    if (running()) stop(SIGKILL);
}

bool DaemonProcess::running() {
    if (status_ >= 0) return false;
    int st = 0;
    const pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return false;
    }
    return true;
}

bool DaemonProcess::wait_for_log(const std::string& text, std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
        if (log().find(text) != std::string::npos) return true;
        if (!running()) return log().find(text) != std::string::npos;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
}

int DaemonProcess::stop(int signal, std::chrono::milliseconds timeout) {
    if (!running()) return status_;
    kill(pid_, signal);
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (running()) {
        if (std::chrono::steady_clock::now() > until) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
            status_ = 128 + SIGKILL;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return status_;
}

std::string DaemonProcess::log() const {
    std::ifstream in(log_path_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

long long log_value(const std::string& log, const std::string& line_tag, const std::string& key) {
    std::istringstream in(log);
    std::string line;
    while (std::getline(in, line)) {
        if (line.find(line_tag) == std::string::npos) continue;
        const std::string k = " " + key + "=";
        const auto at = line.find(k);
        if (at == std::string::npos) return -1;
        return std::atoll(line.c_str() + at + k.size());
    }
    return -1;
}

std::string sluiced_path() {
    const char* p = std::getenv("SLUICED");
    if (p == nullptr) throw std::runtime_error("SLUICED is not set: run the test through meson test");
    return p;
}

}  // namespace sluice::test
