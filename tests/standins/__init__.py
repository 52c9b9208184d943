"""Local stand-ins for the messaging platforms' servers, on free ports of 127.0.0.1, for the
end-to-end tests: each speaks its platform's real protocol and records what the bot sent."""
