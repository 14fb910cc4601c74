// troupe — the one public header for embedding the runtime in a C++ application.
//
//   find_package(troupe)  +  target_link_libraries(app PRIVATE troupe::troupe)
//   #include <troupe/troupe.hpp>
//
//   auto rt = troupe::make_runtime();                       // built-in kinds registered
//   rt->kinds().add("echo", my_factory);                    // your own agent kind
//   rt->spawn(spec);                                        // agents by kind name
//   rt->send("bob", "hi"); rt->publish("news.x", "...");    // direct and topic messages
//   rt->subscribe("news.#", [](const troupe::envelope& m) { ... });
//   auto answer = rt->ask("bob", "question?", 5000);        // request/reply with a timeout
//   rt->wait();                                             // until a stop or all agents end
//   rt->transcript();                                       // recorded events
//
// No CAF (or other third-party) type appears in this API. Building a runtime from a YAML
// scenario is the scenario loader's job (troupe/runtime/scenario*.hpp on top of this API).
#pragma once

#include <memory>
#include <string_view>

#include "troupe/agents/input_source.hpp"
#include "troupe/agents/kinds.hpp"
#include "troupe/runtime/agent.hpp"
#include "troupe/runtime/envelope.hpp"
#include "troupe/runtime/error.hpp"
#include "troupe/runtime/event.hpp"
#include "troupe/runtime/inference_client.hpp"
#include "troupe/runtime/kind_registry.hpp"
#include "troupe/runtime/mailbox.hpp"
#include "troupe/runtime/memory.hpp"
#include "troupe/runtime/runtime.hpp"
#include "troupe/runtime/topic.hpp"

namespace troupe {

/// The library's version, "MAJOR.MINOR.PATCH".
inline constexpr std::string_view version = "0.1.0";

// The embedding vocabulary, re-exported from troupe::runtime.
using runtime::agent_behavior;
using runtime::agent_context;
using runtime::agent_factory;
using runtime::agent_spec;
using runtime::envelope;
using runtime::errc;
using runtime::error;
using runtime::event_type;
using runtime::from_function;
using runtime::mailbox_options;
using runtime::message_kind;
using runtime::overflow_policy;
using runtime::restart_policy;
using runtime::result;
using runtime::runtime_config;
using runtime::runtime_event;

/// The runtime class (`troupe::runtime::runtime`).
using runtime_type = runtime::runtime;

/// A runtime with the built-in agent kinds (llm, human, router) registered.
std::unique_ptr<runtime_type> make_runtime(runtime_config config = {},
                                           agents::builtin_options options = {});

} // namespace troupe
