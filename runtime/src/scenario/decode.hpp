// Decoding the marked YAML tree into the scenario model, then cross-checking it.
#pragma once

#include <map>
#include <string>

#include "reader.hpp"
#include "troupe/runtime/scenario.hpp"

namespace troupe::runtime::detail {

/// Nodes of fields that name other things (agents, topics, profiles), kept so that the
/// validator can point at them: key like "agents.2.profile" or "flow.stages.1".
using ref_marks = std::map<std::string, const ynode*>;

/// Decodes everything decodable; reports per-field problems and keeps going.
void decode_scenario(const ynode& root, reporter& rep, scenario& out, ref_marks& refs);
/// agents: (decode_agents.cpp)
void decode_agents(const ynode& list, reporter& rep, scenario& out, ref_marks& refs);
/// pools: inference pools (decode_pools.cpp)
void decode_pools(const ynode& n, reporter& rep, scenario& out);
/// Profiles' `pool` references (decode_pools.cpp).
void validate_pools(const scenario& s, const ynode& root, reporter& rep);
/// termination: a condition tree; false when it could not be decoded.
bool decode_termination(const ynode& n, reporter& rep, termination_spec& out);
/// Cross-references and flow feasibility (validate.cpp).
void validate_scenario(const scenario& s, const ynode& root, const ref_marks& refs, reporter& rep);

/// True when a name is made of letters, digits, '_' and '-'.
bool valid_name(const std::string& s);

} // namespace troupe::runtime::detail
