import unicodedata

from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, UserCreationForm
from django.core.exceptions import ValidationError

from .models import Email, User

USERNAME_MAX_LENGTH = User._meta.get_field("username").max_length
EMAIL_MAX_LENGTH = 254


def _normalize(value: str, max_length: int) -> str:
    value = value.strip()
    # Too long to be valid: the form refuses it anyway, and normalizing an
    # attacker's megabyte would only cost time (Django's UsernameField too).
    if len(value) > max_length:
        return value
    return unicodedata.normalize("NFKC", value)


def normalize_username(value: str) -> str:
    """A username as the login and registration forms read it, and so as the
    rate limits count it: surrounding whitespace dropped (tabs and wide spaces
    included), then NFKC, so " name", "name\t" and the full-width spelling
    are all "name". One function, so a limit never counts a spelling that the
    form then reads as another account's name."""
    return _normalize(value, USERNAME_MAX_LENGTH)


def normalize_email(value: str) -> str:
    """An address as the password-reset form reads it and its limit counts it:
    as a username, and lower-cased (the reset looks addresses up ignoring case)."""
    return _normalize(value, EMAIL_MAX_LENGTH).lower()


class UsernameField(auth_forms.UsernameField):
    def to_python(self, value):
        return normalize_username(forms.CharField.to_python(self, value))


class NormalizedEmailField(forms.EmailField):
    def to_python(self, value):
        return normalize_email(super().to_python(value))


class RegistrationForm(UserCreationForm):
    """Username, e-mail and password, checked by Django's password validators
    (against the username and address too). The account itself is made by
    accounts.services.user_register."""

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")
        field_classes = {"username": UsernameField}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].required = True
        self.fields["email"].widget.attrs["autocomplete"] = "email"
        self.fields["email"].help_text = "We send a link to this address to verify it."


class AddEmailForm(forms.Form):
    email = forms.EmailField(
        label="New e-mail address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


class EmailActionForm(forms.Form):
    """Which of the signed-in user's addresses a button acts on."""

    ACTIONS = ("primary", "remove", "resend")

    action = forms.ChoiceField(choices=[(action, action) for action in ACTIONS])
    email = forms.ModelChoiceField(queryset=Email.objects.none())

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].queryset = user.emails.select_related("user")


class VerifiedAddressPasswordResetForm(PasswordResetForm):
    """Mails a reset link only to a verified address, and to that address
    rather than to whatever User.email holds."""

    email = NormalizedEmailField(
        label="Email",
        max_length=EMAIL_MAX_LENGTH,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    def get_users(self, email):
        rows = Email.objects.filter(
            email__iexact=email, verified=True, user__is_active=True
        ).select_related("user")
        for row in rows:
            if row.user.has_usable_password():
                # Kept aside, not put into user.email: the reset token hashes
                # the stored User.email, and the confirm step reads it back.
                row.user.reset_address = row.email
                yield row.user

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        super().send_mail(
            subject_template_name,
            email_template_name,
            context,
            from_email,
            context["user"].reset_address,
            html_email_template_name=html_email_template_name,
        )


class PasswordConfirmForm(forms.Form):
    """The account's password again, before a change that weakens the account."""

    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your password.")
        return password


class DeleteAccountForm(PasswordConfirmForm):
    pass


class TotpCodeForm(forms.Form):
    code = forms.CharField(
        label="Code from your authenticator app",
        max_length=12,
        help_text="Six digits; a new one appears every 30 seconds.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false"}
        ),
    )


class RecoveryCodeForm(forms.Form):
    code = forms.CharField(
        label="Recovery code",
        max_length=40,
        help_text="One of the codes you saved when you set up two-factor authentication.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


class LoginForm(AuthenticationForm):
    """Django's login form, which also tells the owner of a frozen account
    (who gave its right password) why it is refused, instead of the
    wrong-password message. authenticate() itself refuses frozen accounts
    (accounts.backends), so no other way in opens."""

    username = UsernameField(widget=forms.TextInput(attrs={"autofocus": True}))
    error_messages = {
        **AuthenticationForm.error_messages,
        "frozen": (
            "This account is frozen by the index's moderators: it cannot sign in, upload "
            "or use its API tokens. If you think this is a mistake, write to the moderators."
        ),
    }

    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            frozen = User.objects.filter(
                username=self.cleaned_data.get("username"), is_frozen=True
            ).first()
            if frozen is not None and frozen.check_password(self.cleaned_data.get("password")):
                raise ValidationError(self.error_messages["frozen"], code="frozen") from None
            raise
