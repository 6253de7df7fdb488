"""Error codes of message delivery."""

from domain.errors import ErrorCode


class DeliveryError(ErrorCode):
    """Returned by sendMessage, distributeCampaign and testMessaging."""

    CODE_NOT_PUBLISHED = "CODE_NOT_PUBLISHED"
    CODE_OF_ANOTHER_CUSTOMER = "CODE_OF_ANOTHER_CUSTOMER"
    INVALID_CHANNELS = "INVALID_CHANNELS"
    NO_ADDRESS = "NO_ADDRESS"
    SMS_TOO_LONG = "SMS_TOO_LONG"
    SANDBOX = "SANDBOX"
    NO_EMAIL_PROVIDER = "NO_EMAIL_PROVIDER"
    NO_SMS_PROVIDER = "NO_SMS_PROVIDER"
    NO_PROVIDER = "NO_PROVIDER"
