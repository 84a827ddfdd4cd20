#!/usr/bin/python3
"""A producer doing a two-turn tool call through tollgated with the tollgate client.

Usage: python_tools_producer.py [REQUESTS_ENDPOINT] [AI_NAME]
(default $TOLLGATE_ENDPOINT, else tcp://127.0.0.1:5555; agent imperium).
"""
import json
import os
import sys

import tollgate

TOOLS = [{"name": "get_weather", "description": "Current weather in a city",
          "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                           "required": ["city"]}}]


def get_weather(city: str) -> dict:
    """The tool itself: runs here, in the agent."""
    return {"city": city, "celsius": 18, "sky": "clear"}


def main() -> int:
    endpoint = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
        "TOLLGATE_ENDPOINT", "tcp://127.0.0.1:5555")
    agent = sys.argv[2] if len(sys.argv) > 2 else "imperium"
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    with tollgate.Client(endpoint) as client:
        # Turn 1: the model asks for the tool (forced here; "auto" lets it decide).
        first = client.call(agent, messages=messages, tools=TOOLS, max_tokens=300,
                            tool_choice={"type": "tool", "name": "get_weather"})
        if first.stop_reason != "tool_use":
            print(f"expected a tool call, got stop_reason {first.stop_reason}", file=sys.stderr)
            return 1
        # Turn 2: the assistant's turn as it came, then one result per tool_use.
        messages.append({"role": "assistant", "content": first.content})
        messages.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": block["id"],
             "content": json.dumps(get_weather(**block["input"]))}
            for block in first.tool_uses]})
        second = client.call(agent, messages=messages, tools=TOOLS, max_tokens=300)
    print(f"turn 1: {first.provider} called {[b['name'] for b in first.tool_uses]}")
    print(f"turn 2: {second.provider} {second.stop_reason} "
          f"{first.usage.total_tokens + second.usage.total_tokens} tokens")
    print(second.text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
