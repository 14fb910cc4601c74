#include "troupe/troupe.hpp"

namespace troupe {

std::unique_ptr<runtime_type> make_runtime(runtime_config config, agents::builtin_options options) {
  auto rt = std::make_unique<runtime_type>(std::move(config));
  agents::register_builtin_kinds(rt->kinds(), std::move(options));
  return rt;
}

} // namespace troupe
