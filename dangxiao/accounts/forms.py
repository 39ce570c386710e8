"""Account forms. Validation of the values themselves lives in services/validation."""

from __future__ import annotations

from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from dangxiao.accounts.services import NewUser
from dangxiao.forms_util import Form

BAD_LOGIN = "用户名或密码错误。"


class LoginForm(Form):
    # Over-long input gets the same generic answer as a wrong password (and never reaches scrypt).
    username = StringField("用户名", validators=[DataRequired("请填写用户名。"), Length(max=64, message=BAD_LOGIN)])
    password = PasswordField("密码", validators=[DataRequired("请填写密码。"), Length(max=128, message=BAD_LOGIN)])
    remember = BooleanField("两周内自动登录")


class PasswordForm(Form):
    current_password = PasswordField("当前密码", validators=[DataRequired("请填写当前密码。")])
    new_password = PasswordField("新密码", validators=[DataRequired("请填写新密码。")])
    confirm = PasswordField("确认新密码", validators=[DataRequired("请再次填写新密码。")])


class ProfileForm(Form):
    display_name = StringField("姓名", validators=[DataRequired("请填写姓名。")])
    phone = StringField("手机号码", validators=[Optional()])


class RegisterForm(Form):
    username = StringField("用户名")
    display_name = StringField("姓名")
    password = PasswordField("密码")
    confirm = PasswordField("确认密码")
    phone = StringField("手机号码")
    branch_id = SelectField("所在党支部", coerce=int, validate_choice=False)
    is_flowing = BooleanField("我是流动党员")
    flowing_region = StringField("现居住地（流入地）")


class ApprovalForm(Form):
    """Empty form: carries the CSRF token for approve/reject buttons."""


def new_user_from(form: Form, confirm: str | None = None) -> NewUser:
    """The account fields a registration or admin "new user" form carries."""
    return NewUser(
        username=form.username.data or "",
        password=form.password.data or "",
        confirm=confirm,
        display_name=form.display_name.data or "",
        branch_id=form.branch_id.data or None,
        phone=form.phone.data,
        is_flowing=form.is_flowing.data,
        flowing_region=form.flowing_region.data,
    )
