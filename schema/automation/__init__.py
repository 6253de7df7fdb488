"""GraphQL for customer events and automations: trackEvent, automations and their actions."""

from schema.automation.resolvers import AutomationMutation, AutomationQuery

__all__ = ["AutomationMutation", "AutomationQuery"]
