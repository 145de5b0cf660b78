// From the compiled policy to what the classifier compiles: rules, actions,
// meters, default classes and class marks, one to one.
#pragma once

#include <string>
#include <vector>

#include "classifier/classifier_tables.hpp"
#include "control/policy/policy.hpp"

namespace sluice::runtime {

using classifier::ClassifierSpec;

struct PolicySpec {
    ClassifierSpec spec;
    // Things the policy asks for that the classifier treats differently,
    // for the daemon to log (e.g. rules on non-IP ethertypes).
    std::vector<std::string> notes;
};

PolicySpec spec_from_policy(const policy::Policy& p);

}  // namespace sluice::runtime
